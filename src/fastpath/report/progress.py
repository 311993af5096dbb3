"""Where a bisection stands: what is left (with an estimate of sessions and time to go), its
steps in order with their evidence, and the commands that reproduce its answer."""

from __future__ import annotations

import datetime
import math
import shlex
import statistics

from fastpath.analysis.render import fmt_num
from fastpath.report.model import FOUND, INCONCLUSIVE, BisectionReport, LogEntry, Point, Remaining

TARGET_BITS = 0.1        # an engine is about done when its posterior's entropy is this low (p ~ 0.99)


def _when(text: str) -> datetime.datetime | None:
    try:
        t = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)


def _median_gap(times) -> float | None:
    ts = sorted(t for t in (_when(x) for x in times) if t is not None)
    gaps = [(b - a).total_seconds() for a, b in zip(ts, ts[1:]) if b > a]
    return statistics.median(gaps) if gaps else None


def session_seconds(store, ctx, swprofiles) -> float | None:
    """Median boot-to-end time of the sessions recorded for these swprofiles (on the
    context's SUT, or every SUT of its pool)."""
    from fastpath.bisect.data import context_suts

    spans = []
    suts = set(context_suts(ctx, store))           # a pool: every SUT of it
    for s in (s for s in store.sessions() if s.sut in suts):
        a, b = _when(s.started), _when(s.finished)
        if s.swprofile in swprofiles and a and b and b > a:
            spans.append((b - a).total_seconds())
    return statistics.median(spans) if spans else None


def remaining(report: BisectionReport, store, ctx, eng) -> Remaining | None:
    a = report.answer
    if a.status == FOUND:
        return None
    tested = [p for p in report.path if p.role == "tested"]
    per_session = (session_seconds(store, ctx, {p.swprofile for p in tested})
                   or session_seconds(store, ctx, {ctx.good_swprofile, ctx.bad_swprofile}))
    if eng is not None:
        return _engine_remaining(report, eng, per_session)
    decided = [p.sessions for p in tested if p.verdict in ("GOOD", "BAD") and p.sessions]
    per_step = statistics.mean(decided) if decided else float(
        (ctx.policy.get("params") or {}).get("min_sessions", 2))
    step_time = _median_gap(p.time for p in tested)
    low = a.parent or report.good.commit
    high = a.culprit or (_find(report, a.candidates[-1].sha) if a.candidates else report.bad.commit)
    if not report.history:
        return Remaining(low, high, None, None, None, None,
                         "the history is unknown: give --tree to count the commits left")
    skipped = {p.commit.sha for p in tested if p.verdict == "SKIP"}
    untested = sum(1 for c in a.candidates[:-1] if c.sha not in skipped)
    if a.status == INCONCLUSIVE or untested == 0:
        return Remaining(low, high, len(a.candidates) - 1, 0, None, None,
                         "nothing to test: only skipped commits are left; confirm each candidate "
                         "(bisect confirm)")
    steps = math.ceil(math.log2(untested + 1))
    sessions = steps * per_step
    seconds = steps * step_time if step_time else (sessions * per_session if per_session else None)
    how = (f"{steps} git bisect steps x {per_step:.1f} sessions a step "
           + ("so far" if decided else "(the policy's minimum)")
           + (f", {step_time / 60:.1f} min a step (build and sessions)" if step_time else
              f", {per_session / 60:.1f} min a session (builds not counted)" if per_session else ""))
    return Remaining(low, high, untested, steps, sessions, seconds, how)


def _find(report: BisectionReport, sha: str):
    return next(c for c in report.history if c.sha == sha)


def _engine_remaining(report: BisectionReport, eng, per_session: float | None) -> Remaining:
    post = [p for p in eng.posterior[1:] if p > 0]
    h = -sum(p * math.log2(p) for p in post) if post else None
    h0 = math.log2(len(eng.commits) - 1) if len(eng.commits) > 2 else 0.0
    n = len(eng.sessions)
    gap = _median_gap(s.at for s in eng.sessions) or per_session
    live = [i for i, p in enumerate(eng.posterior) if p >= 0.01] or list(range(1, len(eng.commits)))
    low, high = report.history[max(min(live) - 1, 0)], report.history[max(live)]
    if h is None or n == 0 or h0 <= h:
        return Remaining(low, high, len(live), None, None, None,
                         "no estimate: the posterior has not narrowed yet")
    rate = (h0 - h) / n
    sessions = max(0.0, (h - TARGET_BITS) / rate)
    return Remaining(low, high, len(live), None, sessions, sessions * gap if gap else None,
                     f"posterior entropy {h:.2f} bits of {h0:.2f}, {rate:.3f} bits a session so far"
                     + (f", {gap / 60:.1f} min a session" if gap else ""))


def evidence(p: Point, unit: str) -> str:
    if not p.values:
        return "no sessions"
    ci = f" [{fmt_num(p.ci95[0])}, {fmt_num(p.ci95[1])}]" if p.ci95 else ""
    unit = f" {unit}" if unit else ""
    return f"{p.sessions} session{'s' if p.sessions != 1 else ''}, mean {fmt_num(p.mean)}{ci}{unit}"


def log_entries(report: BisectionReport, eng) -> list[LogEntry]:
    u = report.unit
    out = [LogEntry("good", report.good.commit.sha, f"good baseline '{report.good.swprofile}': "
                    f"{evidence(report.good, u)}"),
           LogEntry("bad", report.bad.commit.sha, f"bad baseline '{report.bad.swprofile}': "
                    f"{evidence(report.bad, u)}")]
    if eng is not None:
        out += [LogEntry("session", s.sha, f"session {s.index}: {fmt_num(s.value)}{' ' + u if u else ''} "
                         f"({s.swprofile or 'no swprofile'})", s.at) for s in eng.sessions]
    else:
        out += [LogEntry(p.verdict.lower(), p.commit.sha, evidence(p, u) + (f"; {p.reason}" if p.reason else ""),
                         p.time) for p in report.path]
    a = report.answer
    if a.status == FOUND and a.culprit:
        why = (f"posterior probability {a.probability:.4f}" if a.probability is not None else
               f"BAD, and its parent {a.parent.sha[:12]} GOOD" if a.parent else "BAD")
        out.append(LogEntry("found", a.culprit.sha, why))
    return out


def reproduce(report: BisectionReport, pair) -> list[str]:
    ctx = shlex.quote(report.context)
    a = report.answer
    lines = []
    if a.culprit:
        c = a.culprit.sha
        # bisect confirm --help's recipe: the installed scripts (in the kernel tree ./scripts is
        # the kernel's own folder), the kernels and their modules
        lines += ["# in the kernel tree: build the parent and the culprit, then boot them alternately",
                  "FP_SCRIPTS=$(fastpath scripts)",
                  f"git checkout {c}^ && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env",
                  'cp "$KERNEL_PATH" /tmp/parent.img && cp "$MODULES_PATH" /tmp/parent-modules.tar.xz '
                  '&& PARENT=$GITSHA',
                  f"git checkout {c} && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env",
                  f'fastpath bisect confirm --context {ctx} --kernel "$KERNEL_PATH" --modules "$MODULES_PATH" '
                  '--gitsha "$GITSHA" --parent-kernel /tmp/parent.img '
                  '--parent-modules /tmp/parent-modules.tar.xz --parent-gitsha "$PARENT"']
    if pair:
        lines.append(f"fastpath result show {shlex.quote(report.output_store)} --swprofile {pair[0]} "
                     f"--swprofile {pair[1]} --benchmark {report.benchmark}")
    lines += ["# the whole bisection again:",
              f'eval "$(fastpath bisect shas {ctx})"',
              'git bisect start && git bisect good "$GOOD_SHA" && git bisect bad "$BAD_SHA"',
              f"git bisect run \"$(fastpath scripts)/execute_bisection.sh\" {ctx}"]
    return lines
