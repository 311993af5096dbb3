"""A BisectionReport as plain text, ready to paste into an email (in the spirit of 0-Day's
"kernel test robot" reports): headline, commit, testcase, SUT, culprit against parent over every
result class, the bisection's path, how to reproduce."""

from __future__ import annotations

from fastpath.analysis.render import fmt_num, fmt_pct
from fastpath.report.model import (BOUNDED, FOUND, INCONCLUSIVE, BisectionReport, Candidate, ClassRow,
                                   Point)

SUBJECT_WIDTH = 60
MAX_CANDIDATES = 10


def columns(header: list[str], body: list[list[str]], right: set[int] = frozenset(), indent: str = "  ") -> list[str]:
    """Rows padded to their widest cell; the columns in ``right`` are right-aligned."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return [(indent + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                for i, (c, w) in enumerate(zip(r, widths)))).rstrip() for r in [header, *body]]


def direction(report: BisectionReport) -> str:
    return f"{report.improvement} is better"


def headline(report: BisectionReport) -> list[str]:
    a = report.answer
    what = f"{report.benchmark} {report.resultclass}"
    if a.change_pct is None:
        state = {FOUND: "found", INCONCLUSIVE: "inconclusive", BOUNDED: "bounded"}.get(a.status, "running")
        return [f"fastpath bisection ({state}): {what} ({direction(report)}), no culprit measured yet"]
    worse = (a.change_pct < 0) == (report.improvement == "higher")
    kind = "regression" if worse else "improvement"
    lines = [f"fastpath bisection: {fmt_pct(a.change_pct)} {kind} of {what} ({direction(report)})"]
    unit = f" {report.unit}" if report.unit else ""
    if a.change_ci95_pct:
        lo, hi = a.change_ci95_pct
        lines.append(f"  95% interval of the change: {fmt_pct(lo)} .. {fmt_pct(hi)} "
                     f"(step {a.step:+.4g}{unit}, [{a.step_ci95[0]:+.4g}, {a.step_ci95[1]:+.4g}])")
    else:
        lines.append(f"  step {a.step:+.4g}{unit}; no interval: fewer than 2 sessions on a side")
    return lines


def commit_block(report: BisectionReport) -> list[str]:
    a = report.answer
    out = []
    if a.culprit:
        subject = f' ("{a.culprit.subject}")' if a.culprit.subject else ""
        out.append(f"commit: {a.culprit.sha}{subject}")
        if a.culprit.author:
            out.append(f"author: {a.culprit.author}")
        if a.culprit.date:
            out.append(f"date:   {a.culprit.date}")
    if a.parent:
        label = "parent:" if a.parent_is_parent else "below: " if a.culprit else "good:  "
        newest = a.status == BOUNDED or a.culprit is None
        out.append(f"{label} {a.parent.sha}" + (" (the newest commit known good)" if newest else ""))
    status = a.status + (f", probability {a.probability:.4f}" if a.probability is not None else "")
    if a.runner_up:
        status += f"; runner-up {a.runner_up.sha[:12]}" + (
            f" {a.runner_up.probability:.4f}" if a.runner_up.probability is not None else "")
    out.append(f"status: {status}")
    if a.status == BOUNDED:
        out.append("        the first bad commit is after 'below' and at or before 'commit': "
                   "give --tree to know whether they are adjacent")
    out.append(f"range:  {report.good.commit.sha[:12]}..{report.bad.commit.sha[:12]} (good..bad), "
               f"{len([p for p in report.path if p.role == 'tested'])} commits tested, "
               f"{report.sessions_spent} sessions" + (f", engine {report.engine}" if report.engine else
                                                      f", policy {report.policy}"))
    return out


def testcase_block(report: BisectionReport) -> list[str]:
    out = [f"testcase: {report.benchmark}"]
    if report.params:
        out.append("parameters:")
        out += [f"  {k}: {v}" for k, v in sorted(report.params.items())]
    if report.defaults:
        out.append("  " + "  ".join(f"{k}: {v}" for k, v in report.defaults.items()))
    return out


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


def sut_block(report: BisectionReport) -> list[str]:
    s = report.sut
    out = [f"SUT: {s.get('id', '')}"]
    cpu = s.get("cpu_model") or "unknown CPU"
    nodes = s.get("numa_nodes") or 1
    out.append(f"  cpu:     {cpu} ({s.get('architecture') or '?'}), {s.get('cpu_count') or '?'} CPUs, "
               f"{nodes} NUMA node{'s' if nodes != 1 else ''}")
    if s.get("memory"):
        out.append(f"  memory:  {_size(int(s['memory']))}")
    if s.get("product_name") or s.get("host_name"):
        out.append(f"  machine: {s.get('product_name') or '-'} (host {s.get('host_name') or '-'})")
    if report.kernel_name:
        out.append(f"  kernel:  {report.kernel_name}")
    out.append(f"  kernel command line (added): {' '.join(report.cmdline) or '(none)'}")
    if report.sysctl:
        out.append(f"  sysctl:  {' '.join(report.sysctl)}")
    if report.bootscript:
        out.append(f"  bootscript: {'; '.join(report.bootscript)}")
    if report.userspace:
        out.append(f"  userspace: {report.userspace}")
    return out


def _cell(mean: float, stddev: float | None) -> str:
    spread = f" \u00b1 {stddev:2.0f}%" if stddev is not None else "      "
    return f"{fmt_num(mean):>10}{spread}"


def comparison_block(report: BisectionReport) -> list[str]:
    a = report.answer
    if not report.classes:
        return ["(no comparison: the culprit or its parent has no sessions in the output store)"]
    left = f"{a.parent.sha[:12]} ({'parent' if a.parent_is_parent else 'below'})"
    right = f"{a.culprit.sha[:12]} (culprit)"
    out = [f"{left:>16} {right:>27}", "---------------- ---------------------------",
           "         %stddev     %change         %stddev", "             \\          |                \\"]
    for r in report.classes:
        out.append(_class_line(r))
    if any(r.mark is None and r.note for r in report.classes):
        out.append("(R)/(I): Welch's test over sessions at p < 0.05; rows without 2 sessions on each side "
                   "are not marked")
    return out


def _class_line(r: ClassRow) -> str:
    mark = f"({r.mark})" if r.mark else "   "
    return (f"{_cell(r.parent_mean, r.parent_stddev_pct)} {fmt_pct(r.change_pct):>10}  "
            f"{_cell(r.culprit_mean, r.culprit_stddev_pct)}  {mark}  {r.resultclass} "
            f"({r.unit + ', ' if r.unit else ''}{r.parent_sessions} vs {r.culprit_sessions} sessions)")


def path_rows(report: BisectionReport) -> tuple[list[str], list[list[str]]]:
    engine = bool(report.engine)
    header = ["step", "commit", "verdict", "sessions", "mean", "95% interval"] + (["posterior"] if engine else [])
    header.append("subject")
    points = [report.good, *report.path, report.bad]

    def row(p: Point) -> list[str]:
        step = p.role if p.role != "tested" else str(p.order)
        ci = f"[{fmt_num(p.ci95[0])}, {fmt_num(p.ci95[1])}]" if p.ci95 else "-"
        verdict = p.verdict or ("good end" if p.position == 0 else "bad end"
                                if p.position == len(report.history) - 1 else "-")
        cells = [step, p.commit.sha[:12], verdict, str(p.sessions), fmt_num(p.mean), ci]
        if engine:
            cells.append("-" if p.posterior is None else f"{p.posterior:.4f}")
        cells.append(p.commit.subject[:SUBJECT_WIDTH])
        return cells

    return header, [row(p) for p in points]


def path_block(report: BisectionReport) -> list[str]:
    header, body = path_rows(report)
    out = [f"bisection path ({report.resultclass}{', ' + report.unit if report.unit else ''}; "
           f"baselines {report.good.sessions} and {report.bad.sessions} sessions):"]
    return out + columns(header, body, right={3})


def candidates_block(title: str, items: tuple[Candidate, ...], unit: str) -> list[str]:
    if not items:
        return []
    out = [title]
    for c in items[:MAX_CANDIDATES]:
        prob = "" if c.probability is None else f"  p={c.probability:.4f}"
        step = "" if c.step is None else f"  step {c.step:+.4g}{' ' + unit if unit else ''}"
        ci = "" if not c.step_ci95 else f" [{c.step_ci95[0]:+.4g}, {c.step_ci95[1]:+.4g}]"
        out.append(f"  {c.sha[:12]}{prob}{step}{ci}  {c.subject[:SUBJECT_WIDTH]}".rstrip())
    if len(items) > MAX_CANDIDATES:
        out.append(f"  ... and {len(items) - MAX_CANDIDATES} more (--format json lists them all)")
    return out


def render(report: BisectionReport) -> str:
    a = report.answer
    sections = [headline(report), commit_block(report), testcase_block(report), sut_block(report),
                comparison_block(report) if a.culprit else [],
                candidates_block("other changes that make it worse:", a.further, report.unit),
                candidates_block("improvements in the range:", a.improvements, report.unit),
                candidates_block("candidates:" if a.status != FOUND else "", a.candidates if a.status != FOUND
                                 else (), report.unit),
                path_block(report),
                ["notes:", *(f"  {n}" for n in report.notes)] if report.notes else [],
                ["to reproduce:", *(f"  {line}" for line in report.reproduce)]]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"
