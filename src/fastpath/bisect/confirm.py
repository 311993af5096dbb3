"""`fastpath bisect confirm`: re-test a named culprit against its parent before believing it.

git bisect names a first bad commit from verdicts that each compared one commit with
baselines recorded before the bisection started. If the machine moved since (drift) or a
step was misjudged, the named commit is wrong, and nothing in the bisection can tell. The
confirmation boots the parent and the culprit alternately (parent, culprit, parent, ...)
through the same plan executor as `bisect run`, as swprofiles ``confirm-<sha12>`` (kept
apart from the bisection's ``bisect-<sha12>`` sessions, so that pairs are adjacent in
time), and asks judges.ConfirmJudge whether the culprit is worse than its parent by the
baselines' gap. Sessions already recorded for those swprofiles (an interrupted or repeated
confirmation) are reused, paired in session order; only the most recent pairs count
(driver.pairable: older sessions of one side belong to another confirmation).

Exit statuses: 0 CONFIRMED, 1 REJECTED (no step between the two: the bisection's answer
is withdrawn), 125 UNDECIDED at the cap or a kernel that did not boot (not confirmed),
128 ERROR (SUT unreachable, store unwritable, bad context or flags).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastpath.bisect import context as contexts
from fastpath.bisect import data, driver, judges
from fastpath.bisect.params import DEFAULT_POLICY, SprtParams, params_for
from fastpath.bisect.run import _swprofile_spec, baseline_values, step_plan, take_sessions
from fastpath.bisect.verdict import BAD, ERROR, GOOD, SKIP, Decision
from fastpath.errors import FastpathError, KernelBootError, UserError
from fastpath.store import open_store

log = logging.getLogger("fastpath.bisect")

CONFIRMED, REJECTED = "CONFIRMED", "REJECTED"
EXIT = {CONFIRMED: 0, REJECTED: 1, SKIP: 125, ERROR: 128}
_FROM_JUDGE = {BAD: CONFIRMED, GOOD: REJECTED, SKIP: SKIP}


@dataclass
class ConfirmResult:
    outcome: str                  # CONFIRMED, REJECTED, SKIP or ERROR
    line: str
    decision: Decision | None = None
    sessions_run: int = 0
    untestable: bool = False      # not confirmed because a kernel did not boot (nothing measured)
    error: FastpathError | None = None    # what gave ERROR (the CLI names its flags: errors.UserError)

    @property
    def exit_code(self) -> int:
        return EXIT[self.outcome]


def confirm_name(gitsha: str) -> str:
    sha = (gitsha or "").strip()
    if not sha:
        raise UserError("{gitsha}/{parent_gitsha}: empty", params=("gitsha", "parent_gitsha"))
    return "confirm-" + sha[:12]


def _line(outcome: str, culprit: str, parent: str, detail: str = "") -> str:
    what = {CONFIRMED: f"CONFIRMED: {culprit} is worse than its parent {parent} by the regression's size",
            REJECTED: f"REJECTED: no step between {parent} and {culprit}; the bisection's answer is withdrawn",
            SKIP: f"UNDECIDED: {culprit} vs its parent {parent} could not be confirmed"}[outcome]
    return f"Confirm: {what}." + (f" {detail}" if detail else "")


def _judge(ctx: contexts.Context, good, bad) -> judges.ConfirmJudge:
    name = ctx.policy.get("name", DEFAULT_POLICY)
    params = params_for(name, ctx.policy.get("params")) if name == "sprt" else SprtParams()
    return judges.prepare_confirm(good, bad, ctx.improvement, params)


class _BootFailed(Exception):
    """A confirmation session's kernel did not boot (the SUT was recovered): stop, not confirmed."""


def check(ctx: contexts.Context, kernel: str, modules: str | None, gitsha: str, parent_kernel: str,
          parent_modules: str | None, parent_gitsha: str, progress: bool = True) -> ConfirmResult:
    """Run the confirmation; raises FastpathError for infrastructure failures."""
    import pathlib

    from fastpath.execute import Progress, Runner

    for param, path in (("kernel", kernel), ("parent_kernel", parent_kernel),
                        ("modules", modules), ("parent_modules", parent_modules)):
        if path and not pathlib.Path(path).expanduser().is_file():
            raise UserError(f"{{{param}}} {path}: no such file", params=(param,))
    culprit_name, parent_name = confirm_name(gitsha), confirm_name(parent_gitsha)
    if culprit_name == parent_name:
        raise UserError("{gitsha} and {parent_gitsha} name the same commit", params=("gitsha", "parent_gitsha"))
    with open_store(ctx.output_resultstore) as store:
        def values(swp: str) -> list[float]:
            return data.session_values(store, ctx.sut, swp, ctx.benchmark, ctx.resultclass)

        judge = _judge(ctx, *baseline_values(ctx, store))
        problem = judge.problem()
        if problem:
            raise UserError(f"cannot confirm: {problem}")
        result = ConfirmResult(SKIP, "")
        runner = None

        def take(which: int) -> float:
            """Boot one session of the parent (0) or the culprit (1); return its value."""
            nonlocal runner
            if runner is None:
                runner = Runner(step_plan(ctx, _swprofile_spec(ctx, parent_name, parent_kernel, parent_modules,
                                                               parent_gitsha),
                                          _swprofile_spec(ctx, culprit_name, kernel, modules, gitsha)),
                                store, progress=Progress(None, enabled=progress))
                runner.start()
            name = (parent_name, culprit_name)[which]
            taken = take_sessions(ctx, runner, runner.plan.swprofiles[which], 1, lambda: values(name))
            result.sessions_run += taken.added
            if taken.boot_failed:
                raise _BootFailed(f"'{name}' did not boot: {taken.boot_failed}")
            return taken.values[-1]

        parent, culprit = values(parent_name), values(culprit_name)
        try:
            result.decision = driver.confirm(judge, parent, culprit, lambda: take(0), lambda: take(1))
        except _BootFailed as err:
            result.untestable = True
            result.decision = Decision(SKIP, min(len(values(parent_name)), len(values(culprit_name))), 0,
                                       str(err))
        finally:
            if runner is not None:
                runner.close()
    result.outcome = _FROM_JUDGE[result.decision.outcome]
    result.line = _line(result.outcome, culprit_name, parent_name)
    return result


def confirm(context_path: str, kernel: str, modules: str | None, gitsha: str, parent_kernel: str,
            parent_modules: str | None, parent_gitsha: str, progress: bool = True) -> ConfirmResult:
    """`bisect confirm` as a library call: never raises; ERROR results carry the reason."""
    try:
        ctx = contexts.load(context_path)
        return check(ctx, kernel, modules, gitsha, parent_kernel, parent_modules, parent_gitsha, progress)
    except KernelBootError as err:
        return ConfirmResult(SKIP, f"Confirm: UNDECIDED: a kernel did not boot: {err}", untestable=True)
    except FastpathError as err:
        return ConfirmResult(ERROR, f"Error: {err}", error=err)
    except KeyboardInterrupt:
        return ConfirmResult(ERROR, "Error: interrupted")
    except Exception as err:          # a bug: still one line and 128
        log.debug("unexpected error in bisect confirm", exc_info=True)
        return ConfirmResult(ERROR, f"Error: unexpected {type(err).__name__}: {err}")
