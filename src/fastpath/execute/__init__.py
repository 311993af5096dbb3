"""Running plans: sessions x (warmups + repeats) on a SUT, every sample stored when parsed.

    from fastpath.execute import run_plan, Runner
    run_plan(load_plan("plan.yaml"), "sqlite:///results.db", append=False)

    with Runner(plan, store) as runner:                 # one connection, one fingerprint
        outcome = runner.run_swprofile(swp, sessions=1, benchmarks=["fp/syscall"])
        outcome.samples, outcome.errors, outcome.boot_failed
"""

from fastpath.execute.progress import Progress
from fastpath.execute.run import PlanOutcome, run_plan
from fastpath.execute.runner import Runner, SwProfileOutcome

__all__ = ["run_plan", "Runner", "SwProfileOutcome", "PlanOutcome", "Progress"]
