"""The bisection's measuring adapter: boot one session of a commit's kernel on the SUT and
hand back its value.

``Measurer(ctx, store)`` over an open output store; ``session(sha, image, modules)`` boots
one session of swprofile ``bisect-<sha12>`` (the baselines' cmdline, sysctl and bootscript)
through the plan executor (fastpath.execute.Runner: deploy, boot, run the whole benchmark,
every result class into the store as it comes) and returns the session's value of the
context's result class (the mean of its repeats), or None when the kernel did not boot (the
executor recorded it and recovered the SUT). ``values(sha)`` reads back what the store holds.
``sut``: one SUT of a pool (a plan SutSpec from ``Lease.sut_spec``, store id
``<name>@<member>``) to boot on instead of the context's SUT; one Measurer per SUT, each
used by one thread at a time (over a store shared through execute.pooled.LockedStore).
"""

from __future__ import annotations

from fastpath.bisect import context as contexts
from fastpath.bisect import data
from fastpath.bisect.run import _swprofile_spec, step_plan, swprofile_name, take_sessions


class Measurer:
    def __init__(self, ctx: contexts.Context, store, progress: bool = True, sut=None):
        self.ctx, self.store, self.progress, self.sut = ctx, store, progress, sut

    def values(self, swprofile: str) -> list[float]:
        c = self.ctx
        sut = self.sut.name if self.sut is not None else c.sut
        return data.session_values(self.store, sut, swprofile, c.benchmark, c.resultclass)

    def session(self, sha: str, image: str, modules: str | None) -> tuple[float | None, str]:
        """One session of commit ``sha``; (its value, "") or (None, why it did not boot)."""
        from fastpath.execute import Progress, Runner

        name = swprofile_name(sha)
        plan = step_plan(self.ctx, _swprofile_spec(self.ctx, name, image, modules, sha))
        if self.sut is not None:
            plan = plan.with_sut(self.sut)
        with Runner(plan, self.store, progress=Progress(None, enabled=self.progress)) as runner:
            taken = take_sessions(self.ctx, runner, plan.swprofiles[0], 1, lambda: self.values(name))
        if taken.boot_failed:
            return None, taken.boot_failed
        return taken.values[-1], ""
