"""`fastpath lab demo`: the whole job on the lab, from nothing to a named culprit.

1. a lab kernel tree (a private copy of the cached, prepared tree; its base kernel built);
2. a demo history on top of the base with a recorded culprit (getppid() made slower);
3. the good (base) and bad (head) kernels built; the lab VM booted with the good one (with
   ``suts`` K > 1, K VMs as `lab up --count K` boots them: fastpath.lab.pool);
4. a plan that records both baselines on the VM (`plan exec`), into a SQLite store, with more
   sessions when the policy says these cannot be told apart (its advice followed);
5. `bisect start`;
6. `bisect auto` in the kernel tree: by default the engine (fastpath.bisect.search: one
   posterior over the range, a session where it tells most, the ends re-measured, the
   answer written into git); with ``engine="git"`` today's flow (fastpath.bisect.auto: the
   seed's sequence `git bisect start`, `good`, `bad`, `git bisect run
   scripts/execute_bisection.sh CONTEXT`, `bisect confirm` of the named commit against its
   parent, fresh baselines and a new bisection when it is not confirmed); then the answer is
   checked against the recorded culprit. With K VMs the baselines are recorded on the first,
   `bisect start --sut-file <lab>/pool.yaml` (the pool of all K) writes a context whose plan
   names the pool, and the engine runs as `bisect auto --suts K`: K commits at a time, one
   session on each VM.

Everything the demo makes stays in its work directory for the user to look at (the tree, the
plan, the stores, the context files, the bisections' logs); the VM is stopped at the end.
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass

import yaml

from fastpath.bisect import auto, search
from fastpath.bisect.rebaseline import top_up
from fastpath.bisect.start import StartOptions, start
from fastpath.execute import run_plan
from fastpath.errors import UserError
from fastpath.lab import cache, history, kernel, pool, vm
from fastpath.lab.home import git, lab_home
from fastpath.plan import load_plan

BENCHMARK, RESULTCLASS, IMPROVEMENT = "fp/syscall", "fpsyscall-getppid", "lower"   # ns per call


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
    retries: int = 2                    # git flow: fresh baselines and a new bisection when not confirmed
    engine: str = "posterior"           # or "git": `bisect auto --engine`
    tree: str | None = None             # an existing lab tree to use (default: a copy in workdir)
    scripts: str | None = None          # directory holding execute_bisection.sh
    home: str | None = None             # lab home (cached tree)
    progress: bool = True
    suts: int = 1                       # lab VMs: K > 1 boots a pool and runs `bisect auto --suts K`
    ahead: int = 0                      # kernels built ahead: `bisect auto --ahead SLOTS` (engine only)


@dataclass
class DemoResult:
    expected: str                       # the recorded culprit
    subject: str
    commits: int
    bisection: object                   # search.SearchResult (engine) or auto.AutoResult (git flow)
    baseline_sessions: int = 0          # the first baselines (both)
    seconds: float = 0.0
    workdir: str = ""

    @property
    def found(self) -> str | None:
        """The engine's culprit; for the git flow the confirmed one, else what git bisect
        named last (None: no single commit)."""
        b = self.bisection
        if isinstance(b, search.SearchResult):
            return b.commits[b.answer.culprit.index] if b.answer.culprit else None
        return b.culprit or (b.rounds[-1].found if b.rounds else None)

    @property
    def correct(self) -> bool:
        b = self.bisection
        named = self.found if isinstance(b, search.SearchResult) else b.culprit
        return named == self.expected


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
    """Follow the policy's advice as a user would (rebaseline.top_up), recording more sessions
    with `plan exec --append`; return the baseline sessions of each swprofile now in the store."""
    from fastpath.bisect import data, judges
    from fastpath.bisect.params import DEFAULT_POLICY
    from fastpath.store import open_store

    def judge():
        with open_store(store_url, readonly=True) as store:
            good, bad = (data.session_values(store, sut, name, BENCHMARK, RESULTCLASS)
                         for name in ("demo-good", "demo-bad"))
        return judges.prepare(DEFAULT_POLICY, good, bad, IMPROVEMENT)

    def record(sessions: int) -> None:
        plan = yaml.safe_load(plan_path.read_text())
        plan["defaults"]["benchmark"]["sessions"] = sessions
        plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
        run_plan(load_plan(str(plan_path)), store_url, append=True, progress=o.progress)

    return top_up(judge, o.sessions, record, o.max_sessions, say)


def start_options(o: DemoOptions, lab: vm.LabVm, lab_dir: pathlib.Path, store_url: str,
                  ctx_path: pathlib.Path, work: pathlib.Path) -> StartOptions:
    """`bisect start`'s options: the VM's connection flags, or with K VMs ``--sut-file
    <lab>/pool.yaml`` (the pool `lab up --count K` wrote) under the SUT name the baselines
    were recorded with on the first VM, so `bisect auto --suts K` finds the pool in the context."""
    sut = lab.sut()
    if o.suts > 1:
        how = {"sut_file": str(lab_dir / "pool.yaml")}
    else:
        params = sut["connection"]["params"]
        how = {"host": params["host"], "port": params["port"], "user": params["user"],
               "keyfile": params["keyfile"], "known_hosts": params["known_hosts"],
               "power_cycle": sut["power_cycle"]}
    return StartOptions(**how, boot_timeout=60, sut=sut["name"], good_swprofile="demo-good",
                        bad_swprofile="demo-bad", benchmark=BENCHMARK, resultclass=RESULTCLASS,
                        resultstore=store_url, context=str(ctx_path), output_dir=str(work),
                        force=True)        # a demo run starts afresh in its workdir


def run_demo(o: DemoOptions, say=print, confirm_fn=None) -> DemoResult:
    """Run the whole demo; ``say`` receives the narration, one line at a time. ``confirm_fn``
    replaces `bisect confirm`'s library call (a test injects a fault with it)."""
    search.check_counts(o.suts, o.ahead)
    if o.suts > 1 and o.engine != "posterior":
        raise UserError(f"{{suts}} {o.suts} is for the engine; {{engine}} git bisects on one VM",
                        params=("suts", "engine"))
    if o.ahead and o.engine != "posterior":
        raise UserError(f"{{ahead}} {o.ahead} is for the engine; {{engine}} git builds each commit when "
                        f"git bisect asks for it", params=("ahead", "engine"))
    started = time.monotonic()
    work = pathlib.Path(o.workdir).expanduser().resolve() if o.workdir else lab_home(o.home) / "demo"
    work.mkdir(parents=True, exist_ok=True)
    scripts = auto.find_scripts(o.scripts)
    tree = pathlib.Path(o.tree).resolve() if o.tree else work / "linux"

    say(f"[1/6] lab kernel tree in {tree} (the first run prepares and builds it: several minutes)")
    if not (tree / ".git").exists():
        cache.session_copy(tree, o.home)
    cache.reset_to_base(tree)
    good = cache.base_build(tree)

    say(f"[2/6] demo history: {o.commits} commits, one makes getppid() {o.regression_pct:g}% slower "
        f"(seed {o.seed}; the answer is kept in .git until the end)")
    hist = history.make_history(tree, o.commits, regression_pct=o.regression_pct, seed=o.seed,
                                culprit_at=o.culprit_at, broken_build_at=o.broken_build_at, panic_at=o.panic_at)
    git(tree, "checkout", "-q", hist["head"])
    bad = kernel.build(tree)
    git(tree, "checkout", "-q", "lab-history")
    say(f"      good {good.gitsha[:12]} (base), bad {bad.gitsha[:12]} (head), bad built in {bad.seconds:.0f} s")

    lab_dir = work / "lab"
    if o.suts > 1:
        say(f"[3/6] booting {o.suts} lab VMs with the good kernel (as `fastpath lab up --count {o.suts}`)")
        pool.up_pool(o.suts, good.image, home=lab_dir)
        lab = vm.current(lab_dir)
    else:
        say("[3/6] booting the lab VM with the good kernel")
        lab = vm.up(good.image, home=lab_dir)
    try:
        say(f"      up in {lab.boot_seconds:.1f} s ({lab.accel}), SSH on 127.0.0.1:{lab.port}")
        plan_path = work / "plan.yaml"
        plan_path.write_text(yaml.safe_dump(_plan(lab.sut(), good, bad, o), sort_keys=False))
        store_path = work / "baselines.db"
        store_path.unlink(missing_ok=True)
        store_url = f"sqlite:///{store_path}"
        say(f"[4/6] recording baselines: fastpath plan exec --output {store_url} {plan_path}")
        outcome = run_plan(load_plan(str(plan_path)), store_url, progress=o.progress)
        say(f"      {outcome.samples} samples, {outcome.errors} errors")
        # The engine measures the ends itself when it needs more of them; the git flow's
        # policy asks for enough baseline sessions first (its advice followed).
        sessions = o.sessions if o.engine == "posterior" else _top_up(plan_path, store_url, lab.sut()["name"], o, say)

        ctx_path = work / "bisection_context.yaml"
        pool_flag = f" --sut-file {lab_dir / 'pool.yaml'}" if o.suts > 1 else ""
        say(f"[5/6] fastpath bisect start{pool_flag} ... --context {ctx_path}")
        ctx = start(start_options(o, lab, lab_dir, store_url, ctx_path, work))
        if ctx.ends_not_apart:
            from fastpath.bisect.baselines import not_apart_warning
            from fastpath.bisect.engine import EngineParams

            say("      " + not_apart_warning(ctx.ends_not_apart, EngineParams().end_budget))
        if o.engine == "posterior":
            at_once = (f"{o.suts} commits at a time, one session on each VM" if o.suts > 1 else
                       "one session at a time")
            say(f"[6/6] fastpath bisect auto --context {ctx_path} --tree {tree}"
                f"{f' --suts {o.suts}' if o.suts > 1 else ''}{f' --ahead {o.ahead}' if o.ahead else ''}: "
                f"the engine builds and boots {at_once} where its posterior says sessions tell most"
                f"{f', building up to {o.ahead} likely next kernels while they run' if o.ahead else ''}")
            result = search.search(str(ctx_path), str(tree), str(scripts), progress=o.progress, say=say,
                                   suts=o.suts, ahead=o.ahead)
        else:
            say(f"[6/6] fastpath bisect auto --engine git --context {ctx_path} --tree {tree}: git bisect run, "
                f"then bisect confirm; fresh baselines and a new bisection when not confirmed (at most "
                f"{o.retries})")
            options = auto.AutoOptions(context=str(ctx_path), tree=str(tree), scripts=str(scripts),
                                       retries=o.retries, baseline_sessions=o.sessions,
                                       max_baseline_sessions=o.max_sessions, progress=o.progress)
            result = auto.bisect_tree(options, say=say, **({"confirm_fn": confirm_fn} if confirm_fn else {}))
    finally:
        if o.suts > 1:
            pool.down_pool(lab_dir)
        else:
            vm.down(lab_dir)
    return DemoResult(expected=hist["culprit"], subject=hist["culprit_subject"], commits=o.commits,
                      bisection=result, baseline_sessions=2 * sessions, seconds=time.monotonic() - started,
                      workdir=str(work))


def summary(r: DemoResult) -> str:
    """What the demo found, whether it is right, and what it cost."""
    verdict = ("CORRECT: it is the commit the history recorded as the culprit" if r.correct else
               f"WRONG: the recorded culprit is {r.expected}" if r.found else
               f"NOT FOUND: the recorded culprit is {r.expected}")
    if isinstance(r.bisection, search.SearchResult):
        return "\n".join([search.summary(r.bisection), f"  {verdict}" + (f" ({r.subject})" if r.correct else ""),
                          f"Sessions (boots): {r.bisection.answer.sessions + r.baseline_sessions} in all, of which "
                          f"{r.baseline_sessions} for the first baselines; {r.commits} commits",
                          f"Took {r.seconds / 60:.1f} min. Everything is in {r.workdir}: linux/ (the tree), plan.yaml, "
                          f"baselines.db, bisection_context.yaml (the engine's record) and .log"])
    rounds = r.bisection.rounds
    total = (sum(x.bisect_sessions + x.confirm_sessions + x.baseline_sessions for x in rounds)
             + sum(fresh for _, _, fresh in r.bisection.refused) + r.baseline_sessions)
    lines = [auto.summary(r.bisection),
             f"  {verdict}" + (f" ({r.subject})" if r.correct else ""),
             f"Sessions (boots): {total} in all, of which {r.baseline_sessions} for the first baselines;"
             f" {len(rounds)} bisection{'s' if len(rounds) != 1 else ''} of {r.commits} commits",
             f"Took {r.seconds / 60:.1f} min. Everything is in {r.workdir}: linux/ (the tree),"
             f" plan.yaml, baselines.db, bisection_context*.yaml and .log (each bisection's context and log)"]
    return "\n".join(lines)
