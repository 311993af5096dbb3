"""`fastpath bisect auto` with the engine (the default): load the context, measure, ask the
engine, record; until the engine has its answer.

In the kernel tree, with the context of `fastpath bisect start`:

1. The range is the good commit, the first-parent commits up to the bad one (gittree.commits).
2. The engine (fastpath.bisect.engine) starts from every session the output store holds: the
   baselines' copies as sessions of the two ends, then the sessions this bisection already
   took (the context's ``engine.sessions`` log, in order), so an interrupted run resumes
   without losing or retaking a session.
3. ``engine.run`` asks for a commit; it is built (build_local_kernel.sh, through
   gittree.build) and booted for one session (measure.Measurer); its value goes back to the
   engine, and the session into the context's log, which is saved after every session. A
   commit that does not build or boot is recorded as untestable and never asked for again.
4. At the end the answer goes into the context (``engine``: status, posterior, culprit with
   its probability and step, further culprits, improvements, candidates) and into git as
   bisect marks (every tested commit good or bad by the side of the culprit it is on), so
   that ``git bisect log`` shows it.

With ``suts`` K > 1 (`bisect auto --suts K`) the loop asks the engine for K commits at a
time (``run(engine, take, k=K)``, the engine's batch mode); each is built, in turn, then the
K sessions run at once, one thread per SUT: K leases of the plan's ``sut.pool``
(fastpath.pool), each SUT measured through its own Measurer (``Lease.sut_spec``, as
execute.pooled does), released on exit and on Ctrl-C. Sessions go to the engine and the log
in the order they finish.

With ``ahead`` N > 0 (`bisect auto --ahead N`) kernels are built ahead: a build queue
(fastpath.builds.BuildQueue, N build slots, each a git worktree of the tree under
``<tree>/.fastpath-build/ahead``) builds, while a round's sessions run, the commits the
engine is likely to ask for next (fastpath.bisect.lookahead: ``next(K)`` after each way
the round can come out, each at several values of its sessions, likeliest first, the
commits built in this run left out), with the same build_local_kernel.sh; each round's wish
list is its picks, then those; a build no longer on it is stopped. Finished builds stay in the
queue's folder, so a resumed run does not build them again; Ctrl-C stops every build.
Builds run on the machine that drives the bisection, not on the SUTs.

Exit statuses: 0 culprit found, 1 inconclusive or refused, 2 stopped by the SUT, the store
or the tree, 130 interrupted.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import math
import pathlib
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastpath.bisect import context as contexts
from fastpath.bisect import gittree
from fastpath.bisect.engine import FOUND, REFUSED, Answer, Engine, EngineParams, params_dict, run
from fastpath.bisect.lookahead import likely_next
from fastpath.bisect.measure import Measurer
from fastpath.bisect.run import baseline_sessions, swprofile_name
from fastpath.errors import BuildError, UserError
from fastpath.store import open_store


@dataclass
class SearchResult:
    answer: Answer
    commits: list[str]
    context: str
    taken: int = 0                   # sessions this run took
    builds: int = 0
    ready: int = 0                   # of the builds: already built when asked for (ahead, or a run before)
    stopped: int = 0                 # builds ahead stopped as no longer wanted
    untestable: dict = field(default_factory=dict)   # sha -> why
    git_log: str = ""
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 0 if self.answer.status == FOUND else 1


def engine_params(ctx: contexts.Context, overrides: dict | None = None) -> EngineParams:
    saved = dict((ctx.engine or {}).get("params") or {})
    saved.update(overrides or {})
    return EngineParams().with_values(**saved)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _change(commits, c) -> dict | None:
    if c is None:
        return None
    out = {"sha": commits[c.index], "index": c.index, "probability": round(c.probability, 6),
           "step": c.step, "step_ci95": [c.step_ci95[0], c.step_ci95[1]]}
    if c.width > 1:
        out["could_be"] = [commits[i] for i in c.candidates]
    return out


def answer_block(commits: list[str], a: Answer) -> dict:
    """The answer, as the context's ``engine.answer`` (SHAs, not indices)."""
    return {"culprit": _change(commits, a.culprit),
            "runner_up": ({"sha": commits[a.runner_up[0]], "probability": round(a.runner_up[1], 6)}
                          if a.runner_up else None),
            "further": [_change(commits, c) for c in a.further],
            "improvements": [_change(commits, c) for c in a.improvements],
            "candidates": [{"sha": commits[i], "probability": round(p, 6)} for i, p in a.candidates],
            "reason": a.reason,
            **({"sut_offsets": {k: round(v, 6) for k, v in a.suts.items()}} if a.suts else {})}


def _unlogged(ctx: contexts.Context, store, commits: list[str], log: list) -> list[dict]:
    """Sessions the output store holds for commits of the range beyond those the context's
    log has (a run killed between the store's write and the context's): logged now, at the
    end, so that no session is taken twice. With a pool the sessions of every SUT of it count
    (data.context_suts); a store session is matched to a logged one of its commit by value
    (the log keeps the value the store gave), so sessions that ended on several SUTs in
    another order than they were logged are still told apart; each recovered one keeps the
    SUT that took it, as a logged one does, for the model's SUT offsets."""
    from fastpath.bisect import data

    logged: dict[str, list[float]] = {}
    for entry in log:
        logged.setdefault(entry["swprofile"], []).append(float(entry["value"]))
    names = {swprofile_name(sha): i for i, sha in enumerate(commits)}
    suts = data.context_suts(ctx, store)
    extra = []
    for swp in sorted(s.id for s in store.swprofiles() if s.id in names):
        values = data.sut_session_values(store, suts, swp, ctx.benchmark, ctx.resultclass)
        i = names[swp]
        for sut, v in _not_logged(values, logged.get(swp, []), value=lambda pair: pair[1]):
            extra.append({"index": i, "sha": commits[i], "swprofile": swp, "value": v, "at": _now(),
                          **({"sut": sut} if len(suts) > 1 else {}), "recovered": True})
    return extra


def _not_logged(values: list, logged: list[float], value=float) -> list:
    """``values`` less one equal value (to 1e-9 relative; ``value`` reads an item's) for each
    of ``logged``, in order. A logged value the store does not hold (a store written by
    another run) takes the earliest value left, as counting did."""
    left = list(values)
    unmatched = 0
    for v in logged:
        hit = next((j for j, x in enumerate(left)
                    if math.isclose(value(x), v, rel_tol=1e-9, abs_tol=1e-12)), None)
        if hit is None:
            unmatched += 1
        else:
            del left[hit]
    return left[unmatched:]


def measurers(ctx: contexts.Context, store, progress: bool, suts: int, say, stack) -> list[Measurer]:
    """One Measurer per SUT: the context's SUT alone, or ``suts`` leases of its plan's pool
    (released when ``stack`` closes)."""
    if "pool" not in ctx.plan["sut"]:
        if suts > 1:
            raise UserError(f"{{suts}} {suts} needs a pool of SUTs, and the context's plan has no sut.pool "
                            f"(docs/plans.md, \"A pool of SUTs\"; docs/pool.md)", params=("suts",))
        return [Measurer(ctx, store, progress)]
    from fastpath.bisect.run import step_plan
    from fastpath.execute.pooled import LockedStore, connect_identical
    from fastpath.pool import open_pool, pool_size, signals_interrupt

    sut = step_plan(ctx, {"name": "bisect-pool"}).sut
    if pool_size(sut) < suts:
        raise UserError(f"{{suts}} {suts}: the pool of {sut.name} has {pool_size(sut)} SUTs", params=("suts",))
    pool = stack.enter_context(open_pool(sut, say=say))
    stack.enter_context(signals_interrupt())
    machines = connect_identical(sut, pool.reserve(suts), pool, say,     # identical, or refused,
                                 check=lambda fps: same_as_baselines(ctx, store, fps))    # and the baselines' machine
    for machine in machines.values():
        machine.close()                         # each session connects through its own Runner
    leases = list(machines)
    say("      SUTs: " + ", ".join(f"{lease.name} ({lease.detail or lease.connection.host})" for lease in leases))
    shared = LockedStore(store)
    return [Measurer(ctx, shared, progress, sut=lease.sut_spec(sut)) for lease in leases]


def same_as_baselines(ctx: contexts.Context, store, fps: dict) -> None:
    """The leased SUTs of the pool (``{name: Fingerprint}``) are the machine the baselines
    were recorded on (bisect start's check, again: a labgrid coordinator may lease other
    places than it gave `bisect start`); UserError naming the SUT and the fields."""
    from fastpath.bisect import data
    from fastpath.bisect.start import check_same_machine
    from fastpath.store.url import mask

    ids = set(data.context_suts(ctx, store))
    rows = [s for s in store.suts() if s.id in ids]
    check_same_machine(f"the pool of SUT '{ctx.sut}'", rows, {n: dict(fp.hw) for n, fp in fps.items()},
                       mask(ctx.output_resultstore))


def sessions(jobs: list, measures: list, keep=None):
    """Run ``measure(sha, build)`` for each job (sha, build, ...) on the free measures, as
    many at once as there are; yields (job, (value, why)) as each session ends. One measure:
    in this thread. An error (or Ctrl-C) stops the rest: sessions not started are dropped,
    those running end first, and each that ended without being yielded goes to
    ``keep(job, (value, why))``, so that nothing taken is lost."""
    if len(measures) == 1 or len(jobs) == 1:
        for job in jobs:
            yield job, measures[0](job[0], job[1])
        return
    free: queue.Queue = queue.Queue()
    for m in measures:
        free.put(m)

    def one(sha, build):
        m = free.get()
        try:
            return m(sha, build)
        finally:
            free.put(m)

    pool = concurrent.futures.ThreadPoolExecutor(len(measures), thread_name_prefix="bisect-sut")
    futures: dict = {}
    try:
        futures = {pool.submit(one, job[0], job[1]): job for job in jobs}
        for fut in concurrent.futures.as_completed(futures):
            job = futures.pop(fut)
            yield job, fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, job in futures.items():
            if keep is not None and fut.done() and not fut.cancelled() and fut.exception() is None:
                keep(job, fut.result())


def check_counts(suts: int, ahead: int) -> None:
    """UserError unless ``suts`` is at least 1 and ``ahead`` at least 0 (callers that do work
    before search(), as the lab demo, check first)."""
    if suts < 1:
        raise UserError(f"{{suts}} must be at least 1, got {suts}", params=("suts",))
    if ahead < 0:
        raise UserError(f"{{ahead}} must be 0 or more build slots, got {ahead}", params=("ahead",))


def search(context: str, tree: str = ".", scripts: str | None = None, overrides: dict | None = None,
           progress: bool = True, say: Callable[[str], None] = print, measure=None,
           suts: int = 1, ahead: int = 0, build_command=None, ahead_dir: str | None = None) -> SearchResult:
    """The engine-driven bisection (module docstring). ``measure(sha, build) -> (value or
    None, why)`` boots one session (or ``(value, why, sut)``, naming the SUT of a pool that
    took it); by default measure.Measurer over the output store, one per SUT, each naming
    its SUT. ``suts``: commits measured at once (an injected ``measure`` is then called
    from that many threads; a list of them: one per SUT). ``ahead``: build slots of the build-ahead queue (0: each
    commit built in the tree just before its session); ``build_command``: the queue's
    command (BuildQueue's placeholders; default gittree.ahead_command, build_local_kernel.sh);
    ``ahead_dir``: its folder (default ``<tree>/.fastpath-build/ahead``)."""
    from fastpath.bisect.auto import _check_tree, find_scripts

    check_counts(suts, ahead)
    started = time.monotonic()
    tree_path = pathlib.Path(tree).expanduser().resolve()
    ctx_path = pathlib.Path(context).expanduser().resolve()
    scripts_dir = find_scripts(scripts)
    ctx = contexts.load(ctx_path)
    home = _check_tree(tree_path, ctx)
    commits = gittree.commits(tree_path, ctx.good_sha, ctx.bad_sha)
    block = dict(ctx.engine or {})
    if block.get("commits") and block["commits"] != commits:
        raise UserError(f"{ctx_path}: its engine block was made for another range of commits; "
                        f"start a new context with `fastpath bisect start`")
    params = engine_params(ctx, overrides)
    if ctx.ends_not_apart and not block.get("sessions"):
        say(f"      the ends are not yet told apart ({ctx.ends_not_apart.get('reason')}): the engine measures "
            f"them itself, up to end_budget={params.end_budget} end sessions")
    authors, dates = gittree.authors(tree_path, commits)
    block.update({"name": "posterior", "commits": commits, "params": params_dict(params),
                  "subjects": gittree.subjects(tree_path, commits), "authors": authors, "dates": dates})
    log: list = list(block.get("sessions") or [])
    untestable: dict = dict(block.get("untestable") or {})
    engine = Engine(len(commits), ctx.improvement, params)
    result = SearchResult(Answer("running", 0), commits, str(ctx_path))
    with open_store(ctx.output_resultstore) as store, contextlib.ExitStack() as stack:
        # With a pool, every session carries its SUT (the store's id), and the engine's model
        # gives each SUT an offset; with one SUT there is nothing to tell apart.
        pooled = suts > 1 or any(e.get("sut") for e in log)
        good, bad = baseline_sessions(ctx, store)
        for end, values in ((0, good), (len(commits) - 1, bad)):
            for sut_id, v in values:
                engine.add(end, v, baseline=True, sut=sut_id if pooled else None)
        log.extend(_unlogged(ctx, store, commits, log))
        for entry in log:
            engine.add(int(entry["index"]), float(entry["value"]), sut=entry.get("sut") if pooled else None)
        for sha in untestable:
            if sha in commits:
                engine.untestable(commits.index(sha))
        if log:
            say(f"      resuming: {len(log)} sessions already taken, {len(untestable)} untestable commits")
        injected = list(measure) if isinstance(measure, (list, tuple)) else [measure] * suts
        measures = (injected if measure is not None else
                    [lambda sha, b, m=m: (*m.session(sha, b.image, b.modules), m.sut.name if m.sut else None)
                     for m in measurers(ctx, store, progress, suts, say, stack)])
        built: dict[str, gittree.Build] = {}
        builder = None
        if ahead:
            from fastpath.builds import BuildQueue

            builder = stack.enter_context(BuildQueue(
                tree_path, ahead_dir or tree_path / ".fastpath-build" / "ahead", slots=ahead,
                command=build_command or gittree.ahead_command(tree_path, ctx_path, scripts_dir)))

        def save() -> None:
            a = engine.answer()
            block.update({"sessions": log, "untestable": untestable, "status": a.status,
                          "posterior": [round(p, 6) for p in a.posterior], "answer": answer_block(commits, a)})
            ctx.engine = block
            contexts.save(ctx, ctx_path)

        def what(i: int) -> str:
            return "good end" if i == 0 else "bad end" if i == len(commits) - 1 else f"commit {i}/{len(commits) - 1}"

        def record(i: int, value, why: str, sut: str | None = None):
            sha, sut = commits[i], (sut if pooled else None)
            if value is None and i in (0, len(commits) - 1):
                raise UserError(f"the {what(i)} {sha[:12]} cannot be tested: {why}")
            if value is None:
                untestable[sha] = why
                say(f"      {sha[:12]} cannot be tested: {why}")
            else:
                log.append({"index": i, "sha": sha, "swprofile": swprofile_name(sha),
                            "value": value, "at": _now(), **({"sut": sut} if sut else {})})
                result.taken += 1
            return i, value, sut

        def build(i: int) -> gittree.Build:
            sha = commits[i]
            if builder is None:
                say(f"      building {sha[:12]} ({what(i)})")
                return gittree.build(tree_path, sha, ctx_path, scripts_dir, home)
            ready = builder.done(sha)
            say(f"      {'built ahead' if ready else 'building'} {sha[:12]} ({what(i)})")
            try:
                b = builder.get(sha)
            except BuildError as err:       # the build's own reason (exit status, its log's last line)
                raise BuildError(f"{sha[:12]} does not build: {builder.failed.get(sha) or err}") from None
            result.ready += ready
            return gittree.from_queue(b)

        def take(picks: list[int]):
            if builder is not None:         # the picks first, then what the engine may ask next
                ahead_of = likely_next(engine, picks, suts, ready={i for i in set(engine.index)
                                                                   if commits[i] in built})
                builder.want([commits[i] for i in picks + ahead_of])
                result.stopped = len(builder.stopped)
            jobs = []
            for i in picks:                 # every pick built first; the sessions then run at once
                sha = commits[i]
                try:
                    if sha not in built:
                        built[sha] = build(i)
                        result.builds += 1
                except BuildError as err:
                    yield record(i, None, str(err))
                    continue
                jobs.append((sha, built[sha], i))
            for n, (sha, _, i) in enumerate(jobs):
                say(f"      session {engine.spent + n + 1}: {swprofile_name(sha)} ({what(i)})")
            def keep(job, taken):           # ended while the run was stopping: into the log
                if taken[0] is not None:
                    record(job[2], *taken)

            for (sha, _, i), taken in sessions(jobs, measures, keep):
                yield record(i, *taken)

        def step(eng: Engine, picks: list[int]) -> None:
            save()
            a = eng.answer()
            top = max(range(len(a.posterior)), key=lambda j: a.posterior[j]) if a.posterior else 0
            say(f"      after {eng.spent} sessions: most likely first bad commit {commits[top][:12]} "
                f"(p = {a.posterior[top] if a.posterior else 0:.4f})")

        try:
            answer = run(engine, take, k=suts, on_step=step)
        finally:                    # Ctrl-C, the SUT gone: every session taken stays in the log
            save()
            if builder is not None:
                result.stopped = len(builder.stopped)
    result.answer, result.untestable = answer, untestable
    if answer.status == FOUND:
        c = answer.culprit.index
        tested = sorted({int(e["index"]) for e in log} | {0, len(commits) - 1})
        goods = [commits[i] for i in tested if i < c]
        bads = [commits[i] for i in reversed(tested) if i >= c]     # git keeps the last bad mark
        result.git_log = gittree.record_answer(tree_path, goods, bads, [s for s in untestable if s in commits])
        ctx_path.with_suffix(".log").open("a").write(f"# engine answer, as git bisect marks\n{result.git_log}\n")
    result.seconds = time.monotonic() - started
    return result


def summary(r: SearchResult) -> str:
    a, commits = r.answer, r.commits
    lines = []
    if a.status == FOUND:
        c = a.culprit
        lines.append(f"First bad commit: {commits[c.index]} (posterior {c.probability:.4f}; step "
                     f"{c.step:+.4g} [{c.step_ci95[0]:+.4g}, {c.step_ci95[1]:+.4g}] 95%)")
        if c.width > 1:
            lines.append("  not pinned to one commit: it is one of " +
                         ", ".join(commits[i][:12] for i in c.candidates) + " (the others cannot be tested)")
        for f in a.further:
            lines.append(f"Further culprit: {commits[f.index]} (posterior {f.probability:.4f}; step {f.step:+.4g} "
                         f"[{f.step_ci95[0]:+.4g}, {f.step_ci95[1]:+.4g}])")
        if a.runner_up:
            lines.append(f"Runner-up: {commits[a.runner_up[0]][:12]} (p = {a.runner_up[1]:.2g})")
    elif a.status == REFUSED:
        lines.append(f"Refused: {a.reason}")
    else:
        lines.append(f"Inconclusive: {a.reason}")
        for i, p in a.candidates:
            lines.append(f"  candidate {commits[i]} (p = {p:.3f})")
    for imp in a.improvements:
        lines.append(f"Improvement seen (not blamed): {commits[imp.index][:12]} (step {imp.step:+.4g}, "
                     f"p = {imp.probability:.3f})")
    for sha, why in r.untestable.items():
        lines.append(f"Untestable: {sha[:12]}: {why}")
    if a.suts:
        lines.append("SUT offsets (the model's, relative; removed before comparing commits): " +
                     ", ".join(f"{name} {off:+.4g}" for name, off in sorted(a.suts.items())))
    ahead = f", {r.ready} built ahead, {r.stopped} builds ahead stopped" if r.ready or r.stopped else ""
    lines.append(f"{a.sessions} sessions in all ({r.taken} this run, {r.builds} builds{ahead}), "
                 f"{r.seconds / 60:.1f} min; context {r.context}")
    if r.git_log:
        lines.append("The answer is in git: `git bisect log` shows it; `git bisect reset` ends it.")
    return "\n".join(lines)
