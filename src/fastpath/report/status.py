"""`bisect status` (where a bisection stands), `bisect log` (its steps in order, like `git
bisect log`, with the evidence of each) and `bisect shas` (GOOD_SHA/BAD_SHA for a shell)."""

from __future__ import annotations

import collections
import shlex

from fastpath.report.model import FOUND, BisectionReport
from fastpath.report.text import candidates_block, columns, path_rows


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def status(report: BisectionReport) -> str:
    a = report.answer
    tested = [p for p in report.path if p.role == "tested"]
    verdicts = collections.Counter(p.verdict or "measured" for p in tested)
    out = [f"bisection of {report.benchmark} {report.resultclass} ({report.improvement} is better), "
           f"{report.engine and 'engine ' + report.engine or 'policy ' + report.policy}",
           f"context: {report.context}",
           f"status: {a.status}" + (f": first bad commit {a.culprit.sha}"
                                    + (f' ("{a.culprit.subject}")' if a.culprit.subject else "")
                                    if a.status == FOUND and a.culprit else ""),
           f"tested: {len(tested)} commits ("
           + (", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "none") + ")",
           f"sessions spent: {report.sessions_spent} (baselines: {report.good.sessions} good, "
           f"{report.bad.sessions} bad, not counted)"]
    r = report.remaining
    if r is not None:
        left = "an unknown number of commits" if r.commits is None else \
            f"{r.commits} commit{'s' if r.commits != 1 else ''}"
        out.append(f"left: {left} between {r.low.sha[:12]} (good) and {r.high.sha[:12]} (bad)")
        if r.sessions is not None:
            time = f", about {_duration(r.seconds)}" if r.seconds is not None else ""
            steps = f"{r.steps} steps, " if r.steps is not None else ""
            out.append(f"to go: about {steps}{r.sessions:.0f} sessions{time} ({r.basis})")
        else:
            out.append(f"to go: {r.basis}")
    if a.status != FOUND:
        out += candidates_block("top candidates:" if report.engine else "candidates:", a.candidates[:5]
                                if report.engine else a.candidates, report.unit)
    header, body = path_rows(report)
    out.append("")
    out += columns(header, body, right={3}, indent="")
    return "\n".join(out) + "\n"


GIT_WORD = {"good": "good", "bad": "bad", "skip": "skip"}


def log(report: BisectionReport) -> str:
    """git bisect's log form: `# kind: [sha] subject` then the command, with the evidence;
    an engine's sessions as comments (there is no git command for them)."""
    subjects = {c.sha: c.subject for c in report.history}
    subject_of = {p.commit.sha: p.commit.subject for p in [report.good, report.bad, *report.path]}
    out = [f"# fastpath bisect log of {report.context}", "git bisect start"]
    for e in report.log:
        subject = subject_of.get(e.sha) or subjects.get(e.sha, "")
        when = f" {e.time}" if e.time else ""
        if e.kind in GIT_WORD:
            out.append(f"# {e.kind}: [{e.sha}] {subject}".rstrip())
            out.append(f"#  {when and when + ':'} {e.text}")
            out.append(f"git bisect {GIT_WORD[e.kind]} {e.sha}")
        elif e.kind == "found":
            out.append(f"# first bad commit: [{e.sha}] {subject}".rstrip())
            out.append(f"#   {e.text}")
        else:
            out.append(f"# {e.kind}: [{e.sha[:12]}] {e.text}{when}")
    if report.answer.status != FOUND:
        out.append(f"# status: {report.answer.status}")
    return "\n".join(out) + "\n"


def shas(good_sha: str, bad_sha: str) -> str:
    """Lines a shell can eval: GOOD_SHA=... and BAD_SHA=..."""
    return f"GOOD_SHA={shlex.quote(good_sha)}\nBAD_SHA={shlex.quote(bad_sha)}\n"
