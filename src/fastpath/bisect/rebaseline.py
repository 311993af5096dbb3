"""`fastpath bisect rebaseline`: fresh baselines for a bisection whose baselines went stale.

Every verdict of a bisection compares one commit with baselines recorded before it started.
When the named culprit is not confirmed against its parent (`bisect confirm` REJECTED it, or
could not decide), the machine has probably moved since, or a verdict was wrong. The remedy
is to measure the good and the bad kernel again, as the machine is now, and bisect again
against those levels. This module does the measuring:

1. the good and the bad kernel (built by the caller from the context's ``good_sha`` and
   ``bad_sha``) are booted **alternately**, one session each in turn, as new swprofiles
   ``<good>-rebase<n>`` and ``<bad>-rebase<n>`` with the baselines' cmdline, sysctl and
   bootscript, into the context's output store (the original store is never written);
   alternating keeps a machine that moves while they are recorded from moving one of them
   only;
2. the policy's advice is followed as `fastpath lab demo` and the simulator follow it: when
   it could not tell the fresh baselines apart and says how many sessions each would do (at
   most ``max_sessions``), those are recorded too (``top_up``);
3. `bisect start` runs its checks over the fresh baselines (read from the old output store)
   and writes a new context with a new output store, so no session of the stale bisection is
   reused against the new levels.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from fastpath.bisect import context as contexts
from fastpath.bisect import data
from fastpath.bisect.params import DEFAULT_POLICY
from fastpath.bisect.run import _swprofile_spec, baseline_values, step_plan, take_sessions
from fastpath.bisect.start import StartOptions, check_context_path, start
from fastpath.errors import KernelBootError, UserError
from fastpath.store import open_store

SUFFIX = re.compile(r"-rebase\d+$")


class BaselinesRefused(UserError):
    """`bisect start` refused the fresh baselines (its one line); they stay recorded."""

    def __init__(self, message: str, sessions_run: int, params=()):
        super().__init__(message, params=params)
        self.sessions_run = sessions_run


@dataclass
class RebaselineResult:
    context: contexts.Context        # the new context (saved at its path)
    sessions_run: int                # fresh baseline sessions recorded (both swprofiles)


def fresh_names(ctx: contexts.Context, known: set[str]) -> tuple[str, str]:
    """``<good>-rebase<n>``, ``<bad>-rebase<n>`` with the first n neither name is taken at;
    an earlier ``-rebase<k>`` suffix is replaced, not stacked."""
    roots = [SUFFIX.sub("", name) for name in (ctx.good_swprofile, ctx.bad_swprofile)]
    n = 1
    while any(f"{root}-rebase{n}" in known for root in roots):
        n += 1
    return f"{roots[0]}-rebase{n}", f"{roots[1]}-rebase{n}"


def top_up(judge_for: Callable[[], object], have: int, record: Callable[[int], None], limit: int,
           say: Callable[[str], None] = lambda line: None) -> int:
    """Follow `bisect start`'s advice as a user would: while the policy (``judge_for()``, over
    the baselines as they are now) could not tell them apart and says that K sessions of each
    would do, with ``have`` < K <= ``limit``, record them (``record(K)``: bring each baseline to
    K sessions); at most three times. Returns the sessions of each baseline now."""
    for _ in range(3):
        judge = judge_for()
        problem = judge.problem()
        needed = getattr(judge, "baseline_sessions_needed", None)
        want = needed(limit=limit) if problem and needed else None
        if want is None or want <= have:
            return have               # decidable, or hopeless: `bisect start` says which
        say(f"      bisect start would refuse: {problem}")
        say(f"      following that advice: recording up to {want} sessions of each baseline")
        record(want)
        have = want
    return have


def _options(ctx: contexts.Context, good: str, bad: str, context_path: str) -> StartOptions:
    """`bisect start`'s options for the same SUT, benchmark and policy, fresh baselines."""
    sut = ctx.plan["sut"]
    params = (sut.get("connection") or {}).get("params") or {}
    store = ctx.output_resultstore
    out_dir = (os.path.dirname(os.path.dirname(store[len("sqlite:///"):]))
               if store.startswith("sqlite:///") else None)
    return StartOptions(
        host=params.get("host"), user=params.get("user"), port=params.get("port"),
        keyfile=params.get("keyfile"), known_hosts=params.get("known_hosts"),
        power_cycle=sut.get("power_cycle"), boot_timeout=sut.get("boot_timeout"),
        kernel_config=ctx.kernel_config, sut=ctx.sut, good_swprofile=good, bad_swprofile=bad,
        benchmark=ctx.benchmark, resultclass=ctx.resultclass, resultstore=store, context=context_path,
        policy=ctx.policy.get("name", DEFAULT_POLICY), policy_params=ctx.policy.get("params"),
        output_dir=out_dir or None)


def rebaseline(ctx: contexts.Context, good_kernel: str, good_modules: str | None, bad_kernel: str,
               bad_modules: str | None, new_context: str, sessions: int | None = None,
               max_sessions: int = 100, progress: bool = True,
               say: Callable[[str], None] = lambda line: None) -> RebaselineResult:
    """Record fresh baselines (``sessions`` each, default as many as the context's good
    baseline has) and write a new context at ``new_context`` over them. Raises
    KernelBootError when the good or bad kernel does not boot, BaselinesRefused when `bisect
    start` refuses the fresh baselines (its one line), other FastpathErrors for bad input, the
    SUT or the store."""
    from fastpath.execute import Progress, Runner

    for param, path in (("good_kernel", good_kernel), ("bad_kernel", bad_kernel),
                        ("good_modules", good_modules), ("bad_modules", bad_modules)):
        if path and not os.path.isfile(os.path.expanduser(path)):
            raise UserError(f"{{{param}}} {path}: no such file", params=(param,))
    if os.path.exists(new_context):
        raise UserError(f"{{new_context}} {new_context}: already exists (a context holds a bisection's record; "
                        f"give a new name)", params=("new_context",))
    check_context_path(str(new_context), param="new_context")     # its directory, before any boot
    recorded = 0
    with open_store(ctx.output_resultstore) as store:
        old_good, _ = baseline_values(ctx, store)
        sessions = max(int(sessions or len(old_good)), 2)
        names = fresh_names(ctx, {s.id for s in store.swprofiles()})
        shas = (ctx.good_sha, ctx.bad_sha)
        plan = step_plan(ctx, _swprofile_spec(ctx, names[0], good_kernel, good_modules, shas[0]),
                         _swprofile_spec(ctx, names[1], bad_kernel, bad_modules, shas[1]))
        runner = Runner(plan, store, progress=Progress(None, enabled=progress))

        def values(i: int) -> list[float]:
            return data.session_values(store, ctx.sut, names[i], ctx.benchmark, ctx.resultclass)

        def record(target: int) -> None:
            """Bring both fresh baselines to ``target`` sessions, one session of each in turn."""
            nonlocal recorded
            while min(len(values(0)), len(values(1))) < target:
                for i in (0, 1):
                    if len(values(i)) >= target:
                        continue
                    taken = take_sessions(ctx, runner, plan.swprofiles[i], 1, lambda: values(i))
                    recorded += taken.added
                    if taken.boot_failed:
                        raise KernelBootError(f"'{names[i]}' ({shas[i][:12]}) did not boot, so no fresh "
                                              f"baseline: {taken.boot_failed}")
                say(f"      fresh baselines: {len(values(0))} + {len(values(1))} sessions")

        runner.start()
        try:
            record(sessions)
            top_up(lambda: ctx.judge(values(0), values(1)), sessions, record, max_sessions, say)
        finally:
            runner.close()
    try:
        new = start(_options(ctx, names[0], names[1], str(new_context)))
    except UserError as err:
        raise BaselinesRefused(err.args[0] if err.params else str(err), recorded, err.params) from None
    return RebaselineResult(new, recorded)
