"""`fastpath bisect run`: test one commit on the SUT and classify it against both baselines.

1. Load the context; open the output store (the temporary one; the original is never opened).
   A context whose ends `bisect start` could not tell apart yet (``ends-not-apart``) is
   refused (ERROR, before anything is booted) unless the baselines the output store holds
   now tell them apart (check_told_apart).
2. The swprofile is ``bisect-<sha12>`` with the baselines' cmdline, sysctl and bootscript.
   Sessions it already has (an earlier run for the same SHA) are reused.
3. Ask the context's policy (its levels tracked over the commits already tested: history());
   while it is UNDECIDED, run the sessions it asks for with the
   plan executor (fastpath.execute.Runner: deploy the kernel, boot it, run the benchmark;
   samples go straight to the output store), and ask again.
4. A session whose kernel did not boot (the executor records an error and recovers the SUT
   with the plan's power-cycle hook) makes the step SKIP. The SUT unreachable or the store unwritable is an ERROR:
   git bisect must stop, not skip every commit.

Exit statuses (the contract with `git bisect run`): GOOD 0, BAD 1, SKIP 125, ERROR 128.
"""

from __future__ import annotations

import datetime
import logging
import pathlib
from dataclasses import dataclass

from fastpath.bisect import context as contexts
from fastpath.bisect import data
from fastpath.bisect.verdict import ERROR, SKIP, UNDECIDED, Decision, exit_code, verdict_line
from fastpath.errors import FastpathError, KernelBootError, StoreError, SutError, UserError
from fastpath.store import open_store

log = logging.getLogger("fastpath.bisect")


@dataclass
class RunResult:
    outcome: str                 # GOOD, BAD, SKIP or ERROR
    line: str                    # the verdict line
    swprofile: str
    decision: Decision | None = None
    sessions_run: int = 0        # sessions this invocation added
    sessions_reused: int = 0
    error: FastpathError | None = None   # what gave ERROR (the CLI names its flags: errors.UserError)

    @property
    def exit_code(self) -> int:
        return exit_code(self.outcome)


def swprofile_name(gitsha: str) -> str:
    sha = gitsha.strip()
    if not sha:
        raise UserError("{gitsha}: empty", params=("gitsha",))
    return "bisect-" + sha[:12]


def _swprofile_spec(ctx: contexts.Context, name: str, kernel: str, modules: str | None, gitsha: str) -> dict:
    shared = (ctx.plan.get("swprofiles") or [{}])[0]
    spec = {"name": name, "kernel": str(pathlib.Path(kernel).expanduser().resolve()),
            "kernel_git_sha": gitsha, "cmdline": list(shared.get("cmdline") or []),
            "sysctl": list(shared.get("sysctl") or []), "bootscript": list(shared.get("bootscript") or [])}
    if modules:
        spec["modules"] = str(pathlib.Path(modules).expanduser().resolve())
    return spec


def step_plan(ctx: contexts.Context, *swprofiles: dict):
    """The plan for this step: the context's SUT and benchmark, these swprofiles."""
    from fastpath.plan import plan_from_mapping

    mapping = {"sut": ctx.plan["sut"], "swprofiles": list(swprofiles), "benchmarks": ctx.plan["benchmarks"],
               "defaults": ctx.plan.get("defaults") or {}}
    return plan_from_mapping(mapping, f"{ctx.path} (plan)")


@dataclass
class Taken:
    values: list                 # the swprofile's session values now
    added: int                   # sessions this call recorded
    boot_failed: str = ""        # why the kernel did not boot ("" when it booted)


def take_sessions(ctx: contexts.Context, runner, swp, count: int, read) -> Taken:
    """Boot ``count`` sessions of ``swp`` (one of ``runner``'s plan swprofiles) and return
    what ``read()`` (its session values) says now. A kernel that did not boot is reported,
    not raised (each caller has its own outcome for it); a kernel that booted but gave no
    new sample of the context's result class is a SutError."""
    before = len(read())
    outcome = runner.run_swprofile(swp, sessions=count)
    now = read()
    taken = Taken(now, max(len(now) - before, 0))
    if outcome.boot_failed:
        taken.boot_failed = outcome.errors[-1].message if outcome.errors else "boot failed"
    elif len(now) <= before:
        last = outcome.errors[-1].message if outcome.errors else "no samples recorded"
        raise SutError(f"no new '{ctx.resultclass}' samples for '{swp.name}': {last}")
    return taken


def baseline_values(ctx: contexts.Context, store) -> tuple[list[float], list[float]]:
    """The good and bad baselines' session values from the output store (StoreError if gone);
    with a pool, those of every SUT of it (data.context_suts)."""
    good, bad = baseline_sessions(ctx, store)
    return [v for _, v in good], [v for _, v in bad]


def baseline_sessions(ctx: contexts.Context, store) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """baseline_values, each value with the store id of the SUT that took it: (sut, value)."""
    suts = data.context_suts(ctx, store)
    good, bad = (data.sut_session_values(store, suts, swp, ctx.benchmark, ctx.resultclass)
                 for swp in (ctx.good_swprofile, ctx.bad_swprofile))
    if not good or not bad:
        raise StoreError(f"{store.url}: the baseline copies of '{ctx.good_swprofile}' and "
                         f"'{ctx.bad_swprofile}' are missing; run `fastpath bisect start` again")
    return good, bad


def history(ctx: contexts.Context, store, current: str) -> list[tuple[str, list[float]]]:
    """The bisection so far, for the policy's level tracking: [(outcome, session values)] of
    every commit already tested (the context's ``tested`` list, in test order; a SHA tested
    twice counts once, at its first place, with its last outcome), read back from the output
    store; ``current`` (the swprofile being tested now) left out. The simulator builds the
    same list from the same steps (bench/bisect_sim.py)."""
    order: list[str] = []
    outcome: dict[str, str] = {}
    for entry in ctx.tested:
        swp = entry.get("swprofile") if isinstance(entry, dict) else None
        if not swp or swp == current:
            continue
        if swp not in outcome:
            order.append(swp)
        outcome[swp] = str(entry.get("outcome", SKIP))
    return [(outcome[swp], data.session_values(store, ctx.sut, swp, ctx.benchmark, ctx.resultclass))
            for swp in order]


def classify(ctx: contexts.Context, kernel: str, modules: str | None, gitsha: str,
             progress: bool = True) -> RunResult:
    """Test the commit; return the result (no printing, no exit). Raises FastpathError for
    infrastructure failures; a kernel that does not boot gives SKIP (the SUT recovered)."""
    from fastpath.execute import Progress, Runner

    if not pathlib.Path(kernel).expanduser().is_file():
        raise UserError(f"{{kernel}} {kernel}: no such file", params=("kernel",))
    if modules and not pathlib.Path(modules).expanduser().is_file():
        raise UserError(f"{{modules}} {modules}: no such file", params=("modules",))
    name = swprofile_name(gitsha)
    with open_store(ctx.output_resultstore) as store:
        args = (ctx.sut, ctx.benchmark, ctx.resultclass)
        judge = ctx.judge(*baseline_values(ctx, store)).track(history(ctx, store, name))
        values = data.session_values(store, ctx.sut, name, *args[1:])
        result = RunResult(SKIP, "", name, judge.decide(values), 0, len(values))
        runner = None
        try:
            while result.decision.outcome == UNDECIDED:
                if runner is None:
                    plan = step_plan(ctx, _swprofile_spec(ctx, name, kernel, modules, gitsha))
                    runner = Runner(plan, store, progress=Progress(None, enabled=progress))
                    runner.start()
                taken = take_sessions(ctx, runner, plan.swprofiles[0], max(result.decision.need, 1),
                                      lambda: data.session_values(store, ctx.sut, name, *args[1:]))
                result.sessions_run += taken.added
                if taken.boot_failed:
                    result.decision = Decision(SKIP, len(taken.values), 0,
                                               f"the kernel did not boot: {taken.boot_failed}")
                    result.line = verdict_line(SKIP, ctx.resultclass, name, ctx.good_swprofile)
                    return result
                values = taken.values
                result.decision = judge.decide(values)
        finally:
            if runner is not None:
                runner.close()
    result.outcome = result.decision.outcome
    result.line = verdict_line(result.outcome, ctx.resultclass, name, ctx.good_swprofile)
    return result


def check_told_apart(ctx: contexts.Context) -> None:
    """The per-commit flow needs ends told apart: for a context `bisect start` wrote with
    ``ends-not-apart``, ask again over the baselines the output store holds now (sessions
    added since may tell them apart: the key is then removed and the context saved); else a
    UserError, its one line. Nothing is booted."""
    if not ctx.ends_not_apart:
        return
    from fastpath.bisect.baselines import not_apart_error

    with open_store(ctx.output_resultstore, readonly=True) as store:
        ends = ctx.check_ends(*baseline_values(ctx, store))
    if ends.refusal:
        raise UserError(f"{ctx.path}: refusing to bisect '{ctx.resultclass}': {ends.refusal}")
    if ends.not_apart:
        if ends.not_apart != ctx.ends_not_apart:
            ctx.ends_not_apart = ends.not_apart
            contexts.save(ctx, ctx.path)
        raise UserError(not_apart_error(ends.not_apart, ctx.path))
    ctx.ends_not_apart = None
    contexts.save(ctx, ctx.path)


def _record(ctx: contexts.Context, result: RunResult, gitsha: str) -> None:
    entry = {"sha": gitsha, "swprofile": result.swprofile, "outcome": result.outcome,
             "sessions": result.decision.sessions if result.decision else 0,
             "sessions_run": result.sessions_run,
             "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if result.decision and result.decision.reason:
        entry["reason"] = result.decision.reason
    ctx.tested.append(entry)
    contexts.save(ctx, ctx.path)


def run(context_path: str, kernel: str, modules: str | None, gitsha: str, progress: bool = True) -> RunResult:
    """`bisect run` as a library call: never raises; ERROR results carry the one-line reason."""
    name = "bisect-" + (gitsha or "?")[:12]
    ctx = None
    try:
        ctx = contexts.load(context_path)
        check_told_apart(ctx)
        result = classify(ctx, kernel, modules, gitsha, progress)
        _record(ctx, result, gitsha)
        return result
    except KernelBootError as err:      # the executor gave up on the SUT after a bad kernel
        rc, good = (ctx.resultclass, ctx.good_swprofile) if ctx else ("?", "?")
        return RunResult(SKIP, verdict_line(SKIP, rc, name, good, f"(the kernel did not boot: {err})"), name)
    except FastpathError as err:        # SUT unreachable, store unwritable, bad input: stop git bisect
        return RunResult(ERROR, f"Error: {err}", name, error=err)
    except KeyboardInterrupt:
        return RunResult(ERROR, "Error: interrupted", name)
    except Exception as err:            # a bug: still one line and 128, never a traceback's code
        log.debug("unexpected error in bisect run", exc_info=True)
        return RunResult(ERROR, f"Error: unexpected {type(err).__name__}: {err}", name)
