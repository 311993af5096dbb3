"""`fastpath lab demo`: the whole job on the lab, from nothing to a named culprit.

1. a lab kernel tree (a private copy of the cached, prepared tree; its base kernel built);
2. a demo history on top of the base with a recorded culprit (getppid() made slower);
3. the good (base) and bad (head) kernels built; the lab VM booted with the good one;
4. a plan that records both baselines on the VM (`plan exec`), into a SQLite store;
5. `bisect start`, then the seed's sequence in the kernel tree: `git bisect start`, `good`,
   `bad`, `git bisect run scripts/execute_bisection.sh CONTEXT`;
6. `bisect confirm`: the named commit against its parent in alternating boots (a machine that
   drifted during the bisection cannot fake a step there); when git ends with only skipped
   commits, each candidate in turn, oldest first, until one is confirmed;
7. the commit git names, checked against the recorded culprit, and what it cost.

Everything the demo makes stays in its work directory for the user to look at (the tree, the
plan, the stores, the context file, the bisection's log); the VM is stopped at the end.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import time
from dataclasses import dataclass, field

import yaml

from fastpath.bisect import context as contexts
from fastpath.bisect.start import StartOptions, start
from fastpath.errors import BuildError, UserError
from fastpath.execute import run_plan
from fastpath.lab import cache, history, kernel, vm
from fastpath.lab.home import git, lab_home
from fastpath.plan import load_plan

BENCHMARK, RESULTCLASS, IMPROVEMENT = "fp/syscall", "fpsyscall-getppid", "lower"   # ns per call
FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit", re.M)
ONLY_SKIPPED = re.compile(r"^The first bad commit could be any of:\n((?:[0-9a-f]{40}\n)+)", re.M)


def skipped_candidates(output: str) -> list[str]:
    """The commits git bisect lists when only skipped commits are left, as git prints them
    (not in history order); [] when it named one commit or printed no list."""
    found = ONLY_SKIPPED.search(output)
    return found.group(1).split() if found else []


@dataclass
class DemoOptions:
    workdir: str | None = None          # default <lab home>/demo
    commits: int = 12
    regression_pct: float = 50.0
    seed: int = 1
    sessions: int = 5                   # baseline sessions (boots) of each of good and bad
    max_sessions: int = 20              # top-up limit when the policy asks for more baseline sessions
    repeats: int = 5
    iterations: int = 300000            # getppid() calls per repeat
    culprit_at: int | None = None       # default: where the seed puts it
    broken_build_at: int | None = None
    panic_at: int | None = None
    tree: str | None = None             # an existing lab tree to use (default: a copy in workdir)
    scripts: str | None = None          # directory holding execute_bisection.sh
    home: str | None = None             # lab home (cached tree)
    progress: bool = True


@dataclass
class DemoResult:
    expected: str                       # the recorded culprit
    found: str | None                   # what git bisect named (None: no single commit)
    subject: str
    commits: int
    tested: list = field(default_factory=list)   # the context's `tested` entries
    steps: dict = field(default_factory=dict)    # git bisect's good/bad/skip counts for the range
    baseline_sessions: int = 0
    confirmation: str = ""              # the `bisect confirm` line
    confirm_sessions: int = 0
    seconds: float = 0.0
    workdir: str = ""

    @property
    def correct(self) -> bool:
        return self.found == self.expected and self.confirmation.startswith("Confirm: CONFIRMED")

    @property
    def bisect_sessions(self) -> int:
        return sum(t.get("sessions_run", 0) for t in self.tested)


def find_scripts(given: str | None = None) -> pathlib.Path:
    """The directory holding execute_bisection.sh: given, ./scripts, or the source checkout's."""
    here = pathlib.Path(__file__).resolve()
    candidates = [pathlib.Path(given)] if given else [pathlib.Path.cwd() / "scripts", here.parents[3] / "scripts"]
    for path in candidates:
        if (path / "execute_bisection.sh").is_file():
            return path.resolve()
    where = given or "./scripts"
    raise UserError(f"cannot find execute_bisection.sh in {where}: run the demo from the fastpath "
                    f"checkout or give --scripts DIR")


def _plan(sut: dict, good: kernel.BuildResult, bad: kernel.BuildResult, o: DemoOptions) -> dict:
    return {"sut": sut,
            "swprofiles": [
                {"name": "demo-good", "kernel": str(good.image), "modules": str(good.modules),
                 "kernel_git_sha": good.gitsha},
                {"name": "demo-bad", "kernel": str(bad.image), "modules": str(bad.modules),
                 "kernel_git_sha": bad.gitsha}],
            "benchmarks": [{"include": "fp/syscall.yaml", "params": {"iterations": o.iterations}}],
            "defaults": {"benchmark": {"warmups": 1, "repeats": o.repeats, "sessions": o.sessions}}}


def _top_up(plan_path: pathlib.Path, store_url: str, sut: str, o: DemoOptions, say) -> int:
    """Follow the policy's advice as a user would: when `bisect start` would refuse the baselines
    as too close for their noise, record the sessions it asks for (up to ``o.max_sessions``);
    return the baseline sessions of each swprofile now in the store."""
    from fastpath.bisect import data, policy
    from fastpath.store import open_store

    sessions = o.sessions
    for _ in range(3):
        with open_store(store_url, readonly=True) as store:
            good, bad = (data.session_values(store, sut, name, BENCHMARK, RESULTCLASS)
                         for name in ("demo-good", "demo-bad"))
        judge = policy.prepare(policy.DEFAULT_POLICY, good, bad, IMPROVEMENT)
        problem = judge.problem()
        need = judge.baseline_sessions_needed(limit=o.max_sessions) if problem else None
        if not problem or need is None or need <= sessions:
            return sessions               # decidable, or hopeless: `bisect start` says which
        say(f"      bisect start would refuse: {problem}")
        say(f"      following that advice: recording up to {need} sessions of each baseline (--append)")
        plan = yaml.safe_load(plan_path.read_text())
        plan["defaults"]["benchmark"]["sessions"] = sessions = need
        plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
        run_plan(load_plan(str(plan_path)), store_url, append=True, progress=o.progress)
    return sessions


def _git_bisect(tree: pathlib.Path, ctx: contexts.Context, ctx_path: pathlib.Path, script: pathlib.Path,
                log_path: pathlib.Path, say) -> tuple[str, str]:
    """The seed's sequence in the kernel tree (run_demo's reset_to_base ended any earlier
    bisection); stream and keep the output; return it and the log."""
    git(tree, "bisect", "start")
    git(tree, "bisect", "good", ctx.good_sha)
    git(tree, "bisect", "bad", ctx.bad_sha)
    lines = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["git", "bisect", "run", str(script), str(ctx_path)], cwd=tree, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            log.flush()
            lines.append(line)
            say("    " + line.rstrip("\n"))
        proc.wait()
        bisect_log = git(tree, "bisect", "log")
        log.write("\n# git bisect log\n" + bisect_log + "\n")
    git(tree, "bisect", "reset")
    return "".join(lines), bisect_log


def _confirm(tree: pathlib.Path, ctx_path: pathlib.Path, culprit: str, progress: bool) -> tuple[str, int]:
    """Build the culprit and its parent, run `bisect confirm`; return its line and sessions."""
    from fastpath.bisect.confirm import confirm

    builds = {}
    try:
        for which, rev in (("parent", culprit + "^"), ("culprit", culprit)):
            git(tree, "checkout", "-q", rev)
            builds[which] = kernel.build(tree)
    finally:
        git(tree, "checkout", "-q", "-f", "lab-history")
    p, c = builds["parent"], builds["culprit"]
    result = confirm(str(ctx_path), str(c.image), str(c.modules), c.gitsha, str(p.image), str(p.modules),
                     p.gitsha, progress=progress)
    line = result.line + (f" ({result.decision.reason})" if result.decision and result.decision.reason else "")
    return line, result.sessions_run


def run_demo(o: DemoOptions, say=print) -> DemoResult:
    """Run the whole demo; ``say`` receives the narration, one line at a time."""
    started = time.monotonic()
    work = pathlib.Path(o.workdir).expanduser().resolve() if o.workdir else lab_home(o.home) / "demo"
    work.mkdir(parents=True, exist_ok=True)
    script = find_scripts(o.scripts) / "execute_bisection.sh"
    tree = pathlib.Path(o.tree).resolve() if o.tree else work / "linux"

    say(f"[1/7] lab kernel tree in {tree} (the first run prepares and builds it: several minutes)")
    if not (tree / ".git").exists():
        cache.session_copy(tree, o.home)
    cache.reset_to_base(tree)
    good = cache.base_build(tree)

    say(f"[2/7] demo history: {o.commits} commits, one makes getppid() {o.regression_pct:g}% slower "
        f"(seed {o.seed}; the answer is kept in .git until the end)")
    hist = history.make_history(tree, o.commits, regression_pct=o.regression_pct, seed=o.seed,
                                culprit_at=o.culprit_at, broken_build_at=o.broken_build_at, panic_at=o.panic_at)
    git(tree, "checkout", "-q", hist["head"])
    bad = kernel.build(tree)
    git(tree, "checkout", "-q", "lab-history")
    say(f"      good {good.gitsha[:12]} (base), bad {bad.gitsha[:12]} (head), bad built in {bad.seconds:.0f} s")

    lab_dir = work / "lab"
    say("[3/7] booting the lab VM with the good kernel")
    lab = vm.up(good.image, home=lab_dir)
    try:
        say(f"      up in {lab.boot_seconds:.1f} s ({lab.accel}), SSH on 127.0.0.1:{lab.port}")
        plan_path = work / "plan.yaml"
        plan_path.write_text(yaml.safe_dump(_plan(lab.sut(), good, bad, o), sort_keys=False))
        store_path = work / "baselines.db"
        store_path.unlink(missing_ok=True)
        store_url = f"sqlite:///{store_path}"
        say(f"[4/7] recording baselines: fastpath plan exec --output {store_url} {plan_path}")
        outcome = run_plan(load_plan(str(plan_path)), store_url, progress=o.progress)
        say(f"      {outcome.samples} samples, {outcome.errors} errors")
        sessions = _top_up(plan_path, store_url, lab.sut()["name"], o, say)

        ctx_path = work / "bisection_context.yaml"
        params = lab.sut()["connection"]["params"]
        say(f"[5/7] fastpath bisect start ... --context {ctx_path}")
        ctx = start(StartOptions(
            host=params["host"], port=params["port"], user=params["user"], keyfile=params["keyfile"],
            known_hosts=params["known_hosts"], power_cycle=lab.sut()["power_cycle"], boot_timeout=60,
            sut=lab.sut()["name"], good_swprofile="demo-good", bad_swprofile="demo-bad",
            benchmark=BENCHMARK, resultclass=RESULTCLASS, resultstore=store_url, context=str(ctx_path),
            output_dir=str(work)))
        say(f"      git bisect run {script} {ctx_path}")
        out, bisect_log = _git_bisect(tree, ctx, ctx_path, script, work / "bisect-run.log", say)
        found = FIRST_BAD.search(out)
        found = found.group(1) if found else None
        confirmation, confirm_sessions = "", 0
        if found:
            say(f"[6/7] fastpath bisect confirm: {found[:12]} against its parent, alternating boots")
            confirmation, confirm_sessions = _confirm(tree, ctx_path, found, o.progress)
            say("      " + confirmation)
        candidates = skipped_candidates(out)
        if candidates:
            history_order = git(tree, "rev-list", "--reverse", "lab-history").split()
            candidates.sort(key=history_order.index)
        for sha in candidates:
            # Only skipped commits left: confirm each candidate against its parent, oldest
            # first; the first one confirmed is the culprit (docs/bisection.md).
            say(f"[6/7] only skipped commits left: fastpath bisect confirm {sha[:12]} against its parent")
            try:
                line, used = _confirm(tree, ctx_path, sha, o.progress)
            except BuildError as exc:
                line, used = f"Confirm: UNDECIDED: {sha[:12]} or its parent does not build ({exc})", 0
            confirm_sessions += used
            say("      " + line)
            if line.startswith("Confirm: CONFIRMED"):
                found, confirmation = sha, line
                break
    finally:
        vm.down(lab_dir)

    tested = contexts.load(ctx_path).tested
    marks = re.findall(r"^git bisect (good|bad|skip) ", bisect_log, re.M)
    steps = {m: marks.count(m) - (m in ("good", "bad")) for m in ("good", "bad", "skip")}
    return DemoResult(expected=hist["culprit"], found=found, confirmation=confirmation,
                      confirm_sessions=confirm_sessions,
                      subject=hist["culprit_subject"], commits=o.commits, tested=tested, steps=steps,
                      baseline_sessions=2 * sessions, seconds=time.monotonic() - started,
                      workdir=str(work))


def summary(r: DemoResult) -> str:
    """What the demo found, whether it is right, and what it cost."""
    s = r.steps
    verdict = ("CORRECT: it is the commit the history recorded as the culprit" if r.correct else
               "NOT CONFIRMED by bisect confirm" if r.found == r.expected else
               f"WRONG: the recorded culprit is {r.expected}" if r.found else
               f"NO SINGLE COMMIT: git bisect could not narrow it down (the culprit is {r.expected})")
    lines = [f"First bad commit: {r.found or '-'}",
             f"  {verdict}" + (f" ({r.subject})" if r.correct else ""),
             f"Bisection: {sum(s.values())} of {r.commits} commits tried ({s.get('good', 0)} good,"
             f" {s.get('bad', 0)} bad, {s.get('skip', 0)} skipped), {r.bisect_sessions} sessions (boots);"
             f" baselines: {r.baseline_sessions} sessions; confirmation: {r.confirm_sessions} sessions",
             f"  {r.confirmation or 'no confirmation (no single commit named)'}",
             f"Took {r.seconds / 60:.1f} min. Everything is in {r.workdir}: linux/ (the tree),"
             f" plan.yaml, baselines.db, bisection_context.yaml, bisect-run.log"]
    return "\n".join(lines)
