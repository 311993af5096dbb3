"""`fastpath bisect auto`: the whole bisection in a kernel tree, its answer checked, retried
when the check fails.

In the kernel tree, with the context from `fastpath bisect start` (refused, one line, when
its ends are not yet told apart: ``ends-not-apart``, run.check_told_apart), each round is:

1. the seed's sequence: ``git bisect start``, ``good``, ``bad``, ``git bisect run
   scripts/execute_bisection.sh CONTEXT`` (the output streamed and kept in
   ``<context>.log``), then ``git bisect reset``;
2. `bisect confirm` of the named commit against its parent, both built with
   ``scripts/build_local_kernel.sh``; when git ends with only skipped commits, each
   candidate, oldest first, until one is CONFIRMED.

A confirmed commit ends it. When a confirmation measured and did not confirm (REJECTED, or
undecided at its cap), the baselines no longer describe the machine or a verdict was wrong;
then (at most ``retries`` times) the good and the bad kernel are built again and measured
afresh, alternately (`bisect rebaseline`), `bisect start`'s checks write a new context
``<context>.retry<n>.yaml`` over them, and the whole range is bisected again. What cannot be
measured is not retried: a culprit whose parent does not build or boot, or a bisection that
git stopped (status 128: SUT unreachable, store unwritable). This is what the simulator's
user does (bench/bisect_sim.py, ``--retries 2``) and what brings the drift model to the
target (docs/bisection.md).
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from fastpath.bisect import confirm as confirms
from fastpath.bisect import context as contexts
from fastpath.bisect.gittree import build, git
from fastpath.bisect.rebaseline import BaselinesRefused, rebaseline
from fastpath.bisect.run import check_told_apart
from fastpath.errors import BuildError, FastpathError, UserError

FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit", re.M)
ONLY_SKIPPED = re.compile(r"^The first bad commit could be any of:\n((?:[0-9a-f]{40}\n)+)", re.M)


def skipped_candidates(output: str) -> list[str]:
    """The commits git bisect lists when only skipped commits are left, as git prints them
    (not in history order); [] when it named one commit or printed no list."""
    found = ONLY_SKIPPED.search(output)
    return found.group(1).split() if found else []


def find_scripts(given: str | None = None) -> pathlib.Path:
    """The directory holding execute_bisection.sh: given, or the one installed with fastpath."""
    from fastpath import scripts

    if not given:
        return scripts.directory()
    if (pathlib.Path(given) / "execute_bisection.sh").is_file():
        return pathlib.Path(given).resolve()
    raise UserError(f"cannot find execute_bisection.sh in {given}: give {{scripts}} DIR, or leave it out "
                    f"for the installed scripts (`fastpath scripts`)", params=("scripts",))


@dataclass
class Round:
    context: str                     # the context file this round bisected with
    retry: int = 0                   # 0: the first bisection; n: the n-th retry
    log: str = ""                    # path of the log: git bisect run's output, then git bisect log
    found: str | None = None         # what git bisect named (None: no single commit)
    candidates: list = field(default_factory=list)     # all it left (just [found] when it named one)
    confirmations: list = field(default_factory=list)  # [(sha, ConfirmResult)] in order
    culprit: str | None = None       # the confirmed one
    tested: list = field(default_factory=list)         # the context's `tested` entries of this round
    steps: dict = field(default_factory=dict)          # git bisect's good/bad/skip marks in the range
    baseline_sessions: int = 0       # fresh baseline sessions recorded for this round (retries)
    stopped: str = ""                # why the round could not finish: SUT, store (not retried)

    @property
    def bisect_sessions(self) -> int:
        return sum(t.get("sessions_run", 0) for t in self.tested)

    @property
    def confirm_sessions(self) -> int:
        return sum(r.sessions_run for _, r in self.confirmations)

    @property
    def retryable(self) -> bool:
        """Not confirmed by a measurement that could have confirmed it (REJECTED, or undecided
        at the cap): fresh baselines may settle it. A kernel that did not build or boot may not."""
        return (self.culprit is None and not self.stopped
                and any(r.outcome in (confirms.REJECTED, confirms.SKIP) and not r.untestable
                        for _, r in self.confirmations))


@dataclass
class AutoResult:
    rounds: list = field(default_factory=list)
    refused: list = field(default_factory=list)   # [(retry, reason, fresh sessions)]: start refused them
    reason: str = ""                 # why it ended without a confirmed culprit
    failed: bool = False             # ended by the SUT, the store or a build, not by the measurements

    @property
    def culprit(self) -> str | None:
        return self.rounds[-1].culprit if self.rounds else None

    @property
    def exit_code(self) -> int:
        """0: a culprit confirmed; 1: inconclusive (nothing confirmed); 2: stopped by a failure."""
        return 0 if self.culprit else 2 if self.failed else 1


@dataclass
class AutoOptions:
    context: str
    tree: str = "."
    scripts: str | None = None       # directory of execute_bisection.sh (default: find_scripts)
    retries: int = 2                 # fresh baselines and a new bisection, at most this often
    baseline_sessions: int | None = None    # of each fresh baseline (default: as many as the old)
    max_baseline_sessions: int = 100        # when the policy asks for more (its advice followed)
    progress: bool = True


def _check_tree(tree: pathlib.Path, ctx: contexts.Context) -> str:
    """The tree is a git work tree holding both commits, with no bisection in progress and no
    uncommitted changes; returns the branch (or commit) to come back to."""
    if not (tree / ".git").exists():
        raise UserError(f"{{tree}} {tree}: not a git work tree (run in the kernel tree, or give {{tree}})",
                        params=("tree",))
    if subprocess.run(["git", "-C", str(tree), "bisect", "log"], capture_output=True).returncode == 0:
        raise UserError(f"{{tree}} {tree}: a git bisect is already in progress there; `git bisect reset` first",
                        params=("tree",))
    changed = git(tree, "status", "--porcelain", "--untracked-files=no").splitlines()
    if changed:
        raise UserError(f"{{tree}} {tree}: has uncommitted changes ({changed[0].strip()}"
                        f"{', ...' if len(changed) > 1 else ''}); commit or stash them first: bisecting checks "
                        f"out other commits", params=("tree",))
    for key, sha in (("good_sha", ctx.good_sha), ("bad_sha", ctx.bad_sha)):
        if not git(tree, "rev-parse", "-q", "--verify", f"{sha}^{{commit}}", check=False):
            raise UserError(f"{ctx.path}: {key} {sha} is not a commit in {tree}")
    return git(tree, "symbolic-ref", "-q", "--short", "HEAD", check=False) or git(tree, "rev-parse", "HEAD")


def _stop(proc: subprocess.Popen) -> None:
    """End ``git bisect run`` and the step it runs (its own process group) before the tree is
    reset under it: a step left running would build and measure whatever is checked out next."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _git_bisect(tree: pathlib.Path, ctx: contexts.Context, ctx_path: pathlib.Path, script: pathlib.Path,
                log_path: pathlib.Path, say) -> tuple[str, str]:
    """The seed's sequence in the kernel tree; stream the output and append it to the log;
    return it and git's bisect log. The bisection is always reset, its steps stopped first."""
    git(tree, "bisect", "start")
    lines, bisect_log, proc = [], "", None
    try:
        git(tree, "bisect", "good", ctx.good_sha)
        git(tree, "bisect", "bad", ctx.bad_sha)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "a") as log:
            log.write(f"# git bisect run {script} {ctx_path}\n")
            proc = subprocess.Popen(["git", "bisect", "run", str(script), str(ctx_path)], cwd=tree, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    errors="replace", start_new_session=True)
            for line in proc.stdout:
                log.write(line)
                log.flush()
                lines.append(line)
                say("    " + line.rstrip("\n"))
            proc.wait()
            bisect_log = git(tree, "bisect", "log")
            log.write("\n# git bisect log\n" + bisect_log + "\n")
    finally:
        if proc is not None:
            _stop(proc)
        reset = subprocess.run(["git", "-C", str(tree), "bisect", "reset"], capture_output=True, text=True)
    if reset.returncode != 0:
        last = (reset.stderr or reset.stdout).strip().splitlines()
        raise UserError(f"git bisect reset in {tree} failed" + (f": {last[-1]}" if last else "") +
                        "; the tree is left mid-bisection: clean it up and run `git bisect reset` there")
    return "".join(lines), bisect_log


def _round(tree, ctx_path: pathlib.Path, scripts: pathlib.Path, home: str, o: AutoOptions, say,
           confirm_fn) -> Round:
    ctx = contexts.load(ctx_path)
    log_path = ctx_path.with_suffix(".log")
    rnd = Round(str(ctx_path), log=str(log_path))
    say(f"      git bisect run {scripts / 'execute_bisection.sh'} {ctx_path}")
    out, bisect_log = _git_bisect(tree, ctx, ctx_path, scripts / "execute_bisection.sh", log_path, say)
    rnd.tested = contexts.load(ctx_path).tested[len(ctx.tested):]
    marks = re.findall(r"^git bisect (good|bad|skip) ", bisect_log, re.M)
    rnd.steps = {m: marks.count(m) - (m in ("good", "bad")) for m in ("good", "bad", "skip")}
    found = FIRST_BAD.search(out)
    rnd.found = found.group(1) if found else None
    rnd.candidates = [rnd.found] if rnd.found else skipped_candidates(out)
    if not rnd.candidates:
        errors = [line for line in out.splitlines() if line.startswith("Error:")]
        rnd.stopped = ("git bisect run stopped: " + (errors[-1] if errors else (out.strip().splitlines() or
                       ["no output"])[-1]) + f" (log: {log_path})")
        say("      " + rnd.stopped)
        return rnd
    if len(rnd.candidates) > 1:
        order = git(tree, "rev-list", "--reverse", f"{ctx.good_sha}..{ctx.bad_sha}").split()
        rnd.candidates.sort(key=lambda sha: order.index(sha) if sha in order else len(order))
        say(f"      only skipped commits left: confirming each of {len(rnd.candidates)} candidates, oldest first")
    for sha in rnd.candidates:
        say(f"      fastpath bisect confirm: {sha[:12]} against its parent, alternating boots")
        try:
            parent, culprit = (build(tree, rev, ctx_path, scripts, home) for rev in (sha + "^", sha))
            result = confirm_fn(str(ctx_path), culprit.image, culprit.modules, culprit.gitsha, parent.image,
                                parent.modules, parent.gitsha, progress=o.progress)
        except BuildError as exc:
            result = confirms.ConfirmResult(confirms.SKIP, f"Confirm: UNDECIDED: {exc}", untestable=True)
        rnd.confirmations.append((sha, result))
        reason = result.decision.reason if result.decision and result.decision.reason else ""
        say("      " + result.line + (f" ({reason})" if reason else ""))
        if result.outcome == confirms.CONFIRMED:
            rnd.culprit = sha
            break
        if result.outcome == confirms.ERROR:
            if result.line == "Error: interrupted":
                raise KeyboardInterrupt
            rnd.stopped = result.line
            break
    return rnd


def bisect_tree(o: AutoOptions, say: Callable[[str], None] = print,
                confirm_fn: Callable[..., confirms.ConfirmResult] = confirms.confirm) -> AutoResult:
    """Run the rounds (module docstring); ``say`` gets the narration. ``confirm_fn`` is
    `bisect confirm`'s library call (a test may wrap it to inject a fault)."""
    tree = pathlib.Path(o.tree).expanduser().resolve()
    ctx_path = pathlib.Path(o.context).expanduser().resolve()
    scripts = find_scripts(o.scripts)
    ctx = contexts.load(ctx_path)
    check_told_apart(ctx)       # the per-commit flow needs ends told apart (bisect start's advice)
    home = _check_tree(tree, ctx)
    result = AutoResult()
    for n in range(o.retries + 1):
        fresh = 0
        if n:
            new_path = retry_path(ctx_path)
            say(f"[retry {n}/{o.retries}] not confirmed: building the good and bad kernels again and recording "
                f"fresh baselines, alternately")
            try:
                good, bad = (build(tree, sha, ctx_path, scripts, home) for sha in (ctx.good_sha, ctx.bad_sha))
                made = rebaseline(ctx, good.image, good.modules, bad.image, bad.modules, str(new_path),
                                  sessions=o.baseline_sessions, max_sessions=o.max_baseline_sessions,
                                  progress=o.progress, say=say)
            except BaselinesRefused as err:   # the machine now: measure again at the next retry
                say(f"      {err}")
                result.refused.append((n, str(err), err.sessions_run))
                result.reason = f"retry {n}: {err}"
                continue
            except FastpathError as err:      # bad input, a kernel that no longer builds or boots, the SUT
                say(f"      {err}")
                result.reason, result.failed = f"retry {n}: {err}", True
                break
            if made.context.ends_not_apart:   # as refused: the per-commit flow cannot bisect with them
                reason = f"refusing to bisect '{ctx.resultclass}': {made.context.ends_not_apart['reason']}"
                say(f"      {reason}")
                result.refused.append((n, reason, made.sessions_run))
                result.reason = f"retry {n}: {reason}"
                continue
            ctx, ctx_path, fresh = made.context, new_path, made.sessions_run
            say(f"      {fresh} fresh baseline sessions; new context {ctx_path}")
        rnd = _round(tree, ctx_path, scripts, home, o, say, confirm_fn)
        rnd.retry, rnd.baseline_sessions = n, fresh
        result.rounds.append(rnd)
        if rnd.culprit:
            result.reason = ""
            break
        result.failed = bool(rnd.stopped)
        result.reason = rnd.stopped or (
            f"{rnd.candidates[0][:12]} not confirmed" if len(rnd.candidates) == 1 else
            f"none of {len(rnd.candidates)} candidates confirmed")
        if not rnd.retryable:
            break
    return result


def retry_path(ctx_path: pathlib.Path) -> pathlib.Path:
    """``<stem>.retry<n>.yaml`` beside the context, the first n not taken (a context file is a
    bisection's record: never written over)."""
    stem = re.sub(r"(\.retry\d+)?\.ya?ml$", "", ctx_path.name)
    n = 1
    while (ctx_path.parent / f"{stem}.retry{n}.yaml").exists():
        n += 1
    return ctx_path.parent / f"{stem}.retry{n}.yaml"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary(r: AutoResult) -> str:
    """The answer, and what it cost: one block for the user."""
    lines = [f"First bad commit: {r.culprit} (confirmed against its parent)" if r.culprit else
             f"No confirmed culprit: {r.reason or 'nothing to confirm'}"]
    for n, reason, fresh in r.refused:
        lines.append(f"retry {n}: {fresh} fresh baseline sessions, refused: {reason}")
    for rnd in r.rounds:
        s = rnd.steps
        head = (f"retry {rnd.retry} (fresh baselines: {rnd.baseline_sessions} sessions)" if rnd.retry
                else "bisection")
        lines.append(f"{head}: {_plural(sum(s.values()), 'commit')} tried ({s.get('good', 0)} good, "
                     f"{s.get('bad', 0)} bad, {s.get('skip', 0)} skipped), {_plural(rnd.bisect_sessions, 'session')}; "
                     f"confirmation: {_plural(rnd.confirm_sessions, 'session')}; context {rnd.context}")
        for sha, res in rnd.confirmations:
            lines.append(f"  {sha[:12]}: {res.line}")
    return "\n".join(lines)
