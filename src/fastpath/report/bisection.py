"""From a bisection context and its output store to a BisectionReport (model.py).

    report = load("bisection_context.yaml", tree="/path/to/linux")   # tree optional
    print(text.render(report))

The context's ``tested`` list gives each tested commit's verdict (git bisect run); the
output store holds its sessions as swprofile ``bisect-<sha12>`` and the two baselines. An
``engine`` block (engine.py), when present, gives the history, every session in order and
the posterior. Statistics come from fastpath.analysis (summaries, Welch comparisons); the
95% interval of the culprit's step is Welch's (analysis.stats.welch) unless the engine gave one.
"""

from __future__ import annotations

import dataclasses

import yaml

from fastpath.analysis.report import compare_swprofiles
from fastpath.analysis.stats import Summary, summarize, welch
from fastpath.bisect import context as contexts
from fastpath.bisect import data
from fastpath.bisect.run import swprofile_name
from fastpath.natsort import natural_key
from fastpath.report import engine as engines
from fastpath.report import progress
from fastpath.report.model import (BOUNDED, FOUND, INCONCLUSIVE, RUNNING, Answer, BisectionReport, Candidate,
                                   ClassRow, Commit, Point)
from fastpath.report.tree import Tree
from fastpath.store import mask, open_store


def load(context_path: str, tree: str | None = None) -> BisectionReport:
    """The report of the bisection in ``context_path``, reading its output store (read-only)."""
    ctx = contexts.load(context_path)
    raw = yaml.safe_load(open(ctx.path).read()) or {}
    eng = engines.parse(raw.get("engine"), ctx.path)
    with open_store(ctx.output_resultstore, readonly=True) as store:
        return build(ctx, eng, store, Tree(tree))


def same(a: str, b: str) -> bool:
    """Two SHAs name the same commit (one may be abbreviated)."""
    return bool(a) and bool(b) and (a.startswith(b) or b.startswith(a))


class _Builder:
    def __init__(self, ctx: contexts.Context, eng: engines.Engine | None, store, tree: Tree):
        self.ctx, self.eng, self.store, self.tree = ctx, eng, store, tree
        self.history = list(eng.commits) if eng else tree.history(ctx.good_sha, ctx.bad_sha)
        self.subjects = dict(zip(eng.commits, eng.subjects)) if eng and eng.subjects else {}
        self.authors = dict(zip(eng.commits, zip(eng.authors, eng.dates))) if eng and eng.authors else {}
        self.known = {s.id for s in store.swprofiles()}
        tree.prefetch([*self.history, *(e.get("sha", "") for e in ctx.tested if isinstance(e, dict))])

    def commit(self, sha: str) -> Commit:
        full = next((h for h in self.history if same(h, sha)), sha)
        found = self.tree.commit(full, self.subjects.get(full, ""))
        if not found.author and full in self.authors:        # no tree: the engine block's record
            author, date = self.authors[full]
            found = dataclasses.replace(found, author=author, date=date)
        return found

    def position(self, sha: str) -> int | None:
        return next((i for i, h in enumerate(self.history) if same(h, sha)), None)

    def swprofile(self, sha: str) -> str:
        if same(sha, self.ctx.good_sha):
            return self.ctx.good_swprofile
        if same(sha, self.ctx.bad_sha):
            return self.ctx.bad_swprofile
        for s in reversed(self.eng.sessions if self.eng else ()):
            if same(s.sha, sha) and s.swprofile:
                return s.swprofile
        return swprofile_name(sha)

    def values(self, swprofile: str) -> list[float]:
        if swprofile not in self.known:
            return []
        c = self.ctx
        return data.session_values(self.store, data.context_suts(c, self.store), swprofile, c.benchmark,
                                   c.resultclass)

    def point(self, sha: str, role: str, verdict: str, order: int, values=None, **extra) -> Point:
        swp = self.swprofile(sha)
        vals = tuple(self.values(swp) if values is None else values)
        s = summarize(vals, range(len(vals))) if vals else None
        ci = (s.ci95min, s.ci95max) if s is not None and s.ci95min is not None else None
        pos = self.position(sha)
        post = self.eng.posterior[pos] if self.eng and self.eng.posterior and pos is not None else None
        return Point(self.commit(sha), swp, role, verdict, vals, s.mean if s else None, ci, order, pos, post,
                     **extra)

    def path(self) -> list[Point]:
        if self.eng:
            order: dict[str, list[float]] = {}
            for s in self.eng.sessions:
                order.setdefault(s.sha, []).append(s.value)
            return [self.point(sha, "tested", "", i + 1, values=v, time=next(
                s.at for s in reversed(self.eng.sessions) if s.sha == sha)) for i, (sha, v) in enumerate(order.items())]
        first: list[str] = []
        last: dict[str, dict] = {}
        for entry in self.ctx.tested:
            if not isinstance(entry, dict) or not entry.get("sha"):
                continue
            if entry["sha"] not in last:
                first.append(entry["sha"])
            last[entry["sha"]] = entry
        return [self.point(sha, "tested", str(last[sha].get("outcome", "SKIP")), i + 1,
                           reason=str(last[sha].get("reason", "")), time=str(last[sha].get("time", "")))
                for i, sha in enumerate(first)]

    def answer(self, good: Point, bad: Point, path: list[Point]) -> Answer:
        if self.eng:
            return self._engine_answer(good, path)
        verdicts = [p for p in path if p.verdict in ("GOOD", "BAD")]
        if not self.history:          # no history: git bisect's interval shrinks, so the last ones bound it
            low = next((p for p in reversed(verdicts) if p.verdict == "GOOD"), good)
            high = next((p for p in reversed(verdicts) if p.verdict == "BAD"), bad)
            return Answer(BOUNDED, high.commit, low.commit, False)
        goods = [good.commit.sha, *(p.commit.sha for p in verdicts if p.verdict == "GOOD")]
        left = self.tree.candidates(goods, [bad.commit.sha, *(p.commit.sha for p in verdicts if p.verdict == "BAD")])
        culprit = self.commit(left[-1])
        if len(left) == 1:
            parent = self.tree.parent(left[0])
            return Answer(FOUND, culprit, self.commit(parent) if parent else good.commit, bool(parent))
        newest_good = max((p for p in [good, *verdicts] if p.verdict == "GOOD"), key=lambda p: p.position or 0)
        skipped = {p.commit.sha for p in path if p.verdict == "SKIP"}
        status = INCONCLUSIVE if all(sha in skipped for sha in left[:-1]) else RUNNING
        return Answer(status, culprit if status == INCONCLUSIVE else None, newest_good.commit, False,
                      candidates=tuple(Candidate(sha, subject=self.commit(sha).subject) for sha in left))

    def _engine_answer(self, good: Point, path: list[Point]) -> Answer:
        e = self.eng
        top = sorted(range(1, len(e.commits)), key=lambda i: -(e.posterior[i] if e.posterior else 0))[:5]
        cands = e.candidates or tuple(Candidate(e.commits[i], e.posterior[i]) for i in top if e.posterior)
        cands = tuple(dataclasses.replace(c, subject=self.commit(c.sha).subject) for c in cands)
        extra = {k: tuple(dataclasses.replace(c, subject=self.commit(c.sha).subject) for c in getattr(e, k))
                 for k in ("further", "improvements")}
        status = {"found": FOUND, "inconclusive": INCONCLUSIVE}.get(e.status, RUNNING)
        if e.culprit is None:
            return Answer(status, None, None, False, runner_up=e.runner_up, candidates=cands, **extra)
        pos = e.position(e.culprit.sha)
        parent = self.commit(e.commits[pos - 1]) if pos else good.commit
        return Answer(status, self.commit(e.culprit.sha), parent, True, e.culprit.probability, e.culprit.step,
                      e.culprit.step_ci95, runner_up=e.runner_up, candidates=cands, **extra)

    def compared(self, answer: Answer, points: list[Point]) -> tuple[str, str] | None:
        """(parent swprofile, culprit swprofile) with samples; the parent falls back to the nearest
        measured commit below the culprit (the answer says so)."""
        if answer.culprit is None:
            return None
        if answer.parent is not None:       # `bisect confirm`'s alternating boots are the better evidence
            confirmed = tuple("confirm-" + c.sha[:12] for c in (answer.parent, answer.culprit))
            if all(sw in self.known and self.values(sw) for sw in confirmed):
                return confirmed
        culprit = self.swprofile(answer.culprit.sha)
        if culprit not in self.known or not self.values(culprit):
            return None
        parent = self.swprofile(answer.parent.sha) if answer.parent else ""
        if parent in self.known and self.values(parent):
            return parent, culprit
        pos = self.position(answer.culprit.sha)
        below = [p for p in points if p.values and p.position is not None and pos is not None and p.position < pos]
        if not below:
            return None
        return max(below, key=lambda p: p.position).swprofile, culprit

    def classes(self, pair: tuple[str, str]) -> tuple[list[ClassRow], dict]:
        """Every result class of the benchmark, culprit against parent; and the Summaries of the
        bisected one ({"parent": Summary, "culprit": Summary})."""
        pooled = len(data.context_suts(self.ctx, self.store)) > 1     # a pool: its SUTs as a factor
        rep = compare_swprofiles(self.store, list(pair), benchmark=self.ctx.benchmark,
                                 sut=None if pooled else self.ctx.sut)
        by_rc: dict[str, dict] = {}
        for row in rep.rows:
            by_rc.setdefault(row.resultclass, {})["culprit" if row.comparison else "parent"] = row
        rows, bisected = [], {}
        for rc, pair_rows in sorted(by_rc.items(), key=lambda kv: natural_key(kv[0])):
            if len(pair_rows) < 2:
                continue
            p, c = pair_rows["parent"], pair_rows["culprit"]
            cmp = c.comparison
            by_sessions = cmp.basis == "sessions"
            note = "" if by_sessions else "no mark: fewer than 2 sessions on a side"
            rows.append(ClassRow(rc, c.unit, c.improvement, p.summary.mean, p.summary.stddev_pct, p.summary.sessions,
                                 c.summary.mean, c.summary.stddev_pct, c.summary.sessions, cmp.change_pct,
                                 cmp.p_value if by_sessions else None, cmp.significance if by_sessions else None,
                                 note))
            if rc == self.ctx.resultclass:
                bisected = {"parent": p.summary, "culprit": c.summary}
        return rows, bisected


def build(ctx: contexts.Context, eng: engines.Engine | None, store, tree: Tree) -> BisectionReport:
    b = _Builder(ctx, eng, store, tree)
    good = b.point(ctx.good_sha, "good", "GOOD", 0)
    bad = b.point(ctx.bad_sha, "bad", "BAD", 0)
    path = b.path()
    answer = b.answer(good, bad, path)
    pair = b.compared(answer, [good, *path, bad])
    classes, bisected = b.classes(pair) if pair else ([], {})
    notes = []
    if pair and pair[1].startswith("confirm-"):
        notes.append(f"culprit against parent: the sessions of `bisect confirm` ({pair[0]}, {pair[1]})")
    elif pair and answer.parent and pair[0] != b.swprofile(answer.parent.sha):
        notes.append(f"the culprit's parent {answer.parent.sha[:12]} has no sessions: compared with "
                     f"{pair[0]}, the nearest measured commit before it")
        below = next(p for p in [good, *path] if p.swprofile == pair[0])
        answer = dataclasses.replace(answer, parent=below.commit, parent_is_parent=False)
    answer = _with_step(answer, bisected)
    rcs = {rc.name: rc for rc in store.resultclasses() if rc.benchmark == ctx.benchmark}
    info = rcs.get(ctx.resultclass)
    sut = next((dataclasses.asdict(s) for s in store.suts() if s.id == ctx.sut), {"id": ctx.sut})
    swps = {s.id: s for s in store.swprofiles()}
    prof = swps.get(pair[1] if pair else ctx.bad_swprofile) or swps.get(ctx.bad_swprofile)
    bench = next((bm for bm in store.benchmarks() if bm.id == ctx.benchmark), None)
    params = dict(bench.params if bench else {})
    for pb in ctx.plan.get("benchmarks") or []:
        if isinstance(pb, dict):
            params.update(pb.get("params") or {})
    defaults = dict((ctx.plan.get("defaults") or {}).get("benchmark") or {})
    out = mask(ctx.output_resultstore)
    report = BisectionReport(
        context=ctx.path, benchmark=ctx.benchmark, resultclass=ctx.resultclass, unit=info.unit if info else "",
        improvement=ctx.improvement, policy=ctx.policy.get("name", ""), engine=eng.name if eng else "",
        params=params, defaults=defaults, sut=sut,
        cmdline=tuple(prof.cmdline) if prof else (), sysctl=tuple(prof.sysctl) if prof else (),
        bootscript=tuple(prof.bootscript) if prof else (), kernel_name=prof.kernel_name if prof else "",
        userspace=prof.userspace if prof else "", output_store=out, good=good, bad=bad, path=tuple(path),
        answer=answer, classes=tuple(classes), remaining=None, log=(), reproduce=(),
        history=tuple(b.commit(h) for h in b.history), posterior=eng.posterior if eng else (),
        sessions_spent=sum(p.sessions for p in path if p.role == "tested"), notes=tuple(notes))
    return dataclasses.replace(report, remaining=progress.remaining(report, store, ctx, eng),
                               log=tuple(progress.log_entries(report, eng)),
                               reproduce=tuple(progress.reproduce(report, pair)))


def _with_step(answer: Answer, bisected: dict) -> Answer:
    """The culprit's step and its 95% interval: the engine's when it gave one, else Welch's
    interval of the difference of the session means (both sides >= 2 sessions)."""
    if not bisected:
        return answer
    p, c = bisected["parent"], bisected["culprit"]
    step, ci = answer.step, answer.step_ci95
    if step is None:
        step = c.mean - p.mean
        ci = welch_interval(p, c)
    base = abs(p.mean) if p.mean else None
    pct = step / base * 100.0 if base else None
    pct_ci = (ci[0] / base * 100.0, ci[1] / base * 100.0) if base and ci else None
    return dataclasses.replace(answer, step=step, step_ci95=ci, change_pct=pct, change_ci95_pct=pct_ci)


def welch_interval(p: Summary, c: Summary, confidence: float = 0.95) -> tuple[float, float] | None:
    """95% interval of c.mean - p.mean over session (boot) means (analysis.stats.welch); None
    below 2 boots a side."""
    if p.boots < 2 or c.boots < 2:
        return None
    return welch(p.mean, p.session_sd, p.boots, c.mean, c.session_sd, c.boots, confidence)[1:]
