"""Run a whole plan into a store: ``run_plan(plan, store_url_or_store, append=False)``.

    outcome = run_plan(plan, "sqlite:///r.db")
    outcome.check()      # NothingMeasuredError when a benchmark gave no sample (`plan exec`: exit 2)
"""

from __future__ import annotations

import dataclasses

from fastpath.errors import NothingMeasuredError, UserError
from fastpath.execute.pooled import completed, run_plan_pooled
from fastpath.execute.progress import Progress
from fastpath.execute.runner import Runner, SwProfileOutcome, done_sessions
from fastpath.store import Store, open_store


@dataclasses.dataclass
class PlanOutcome:
    store: str
    swprofiles: list[SwProfileOutcome]

    @property
    def samples(self) -> int:
        return sum(len(o.samples) for o in self.swprofiles)

    @property
    def errors(self) -> int:
        return sum(len(o.errors) for o in self.swprofiles)

    def unmeasured(self) -> list[str]:
        """One "what: first error line" per benchmark (or unbooted swprofile) without a sample."""
        return [f"{bench or 'every benchmark'} on {o.swprofile}: {message}"
                for o in self.swprofiles for bench, message in o.unmeasured()]

    def check(self) -> None:
        """NothingMeasuredError naming the benchmarks that gave no sample (up to 3), each with
        its first error line."""
        missing = self.unmeasured()
        if missing:
            more = f"; and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise NothingMeasuredError(f"no sample of {'; of '.join(missing[:3])}{more}")


def store_has_data(store: Store) -> bool:
    return bool(store.suts() or store.swprofiles() or store.sessions())


def planned_samples(plan, store: Store) -> int:
    """Samples the plan still has to record (for the progress display)."""
    total = 0
    for swp in plan.swprofiles:
        done = completed(plan, store, swp.name) if plan.sut.pool else \
            done_sessions(store, plan.sut.name, swp.name)
        total += sum(plan.samples_per_session(k) for k in range(done, plan.sessions))
    return total


def run_plan(plan, store: Store | str, append: bool = False, progress: bool = True,
             stream=None, pool=None) -> PlanOutcome:
    """Run every swprofile's missing sessions; every sample is in the store when parsed.

    ``store`` is an open Store or a URL. Without ``append`` a store that already holds
    results is refused (UserError); with it, complete sessions are kept and not redone,
    except those that recorded an error. A benchmark that gave no sample does not raise
    here: call ``check()`` on the outcome. A plan whose SUT has a pool spreads its sessions
    over the pool (execute.pooled); ``pool`` is an open fastpath.pool.Pool to use instead of
    opening the plan's."""
    if isinstance(store, str):
        with open_store(store) as opened:
            return run_plan(plan, opened, append, progress, stream, pool)
    if not append and store_has_data(store):
        raise UserError(f"store {store.url} already holds results; use {{append}} to add to it "
                        f"(complete sessions are not redone)", params=("append",))
    bar = Progress(planned_samples(plan, store), stream=stream, enabled=progress)
    if plan.sut.pool is not None:
        outcomes = run_plan_pooled(plan, store, bar, pool)
        bar.finish()
        return PlanOutcome(store.url, outcomes)
    outcomes = []
    with Runner(plan, store, progress=bar) as runner:
        for swp in plan.swprofiles:
            outcomes.append(runner.run_swprofile(swp))
    bar.finish()
    return PlanOutcome(store.url, outcomes)
