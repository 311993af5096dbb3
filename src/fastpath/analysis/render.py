"""Render a Report as a text table, CSV or JSON (what `fastpath result show` prints)."""

from __future__ import annotations

import csv
import io
import json
import math

from fastpath.analysis.report import Report, Row
from fastpath.analysis.stats import SAMPLES, SESSIONS

SINGLE_HEADER = ("Benchmark", "Result Class", "min", "ci95min", "mean", "ci95max", "max", "cv",
                 "count")
ONE_SESSION = "*"
SAMPLE_TEST = "+"


def fmt_num(x: float | None) -> str:
    """About 4 significant digits, never in exponent form; '-' for None."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x == 0:
        return "0"
    decimals = min(6, max(0, 3 - math.floor(math.log10(abs(x)))))
    return f"{x:.{decimals}f}"


def fmt_pct(x: float | None, signed: bool = True) -> str:
    if x is None:
        return "-"
    return f"{x:+.2f}%" if signed else f"{x:.2f}%"


def _rel(value: float | None, mean: float) -> str:
    if value is None or mean == 0:
        return "-"
    return fmt_pct((value - mean) / abs(mean) * 100)


def _rc_label(row: Row) -> str:
    return f"{row.resultclass} ({row.unit})" if row.unit else row.resultclass


def _single_cells(row: Row, relative: bool) -> list[str]:
    s = row.summary
    mark = ONE_SESSION if s.basis == SAMPLES else ""
    if relative:
        lo, hi, mn, mx = (_rel(s.ci95min, s.mean), _rel(s.ci95max, s.mean), _rel(s.min, s.mean),
                          _rel(s.max, s.mean))
    else:
        lo, hi, mn, mx = fmt_num(s.ci95min), fmt_num(s.ci95max), fmt_num(s.min), fmt_num(s.max)
    cv = "-" if s.cv is None else fmt_pct(s.cv * 100, signed=False)
    return [row.benchmark, _rc_label(row), mn, lo + mark, fmt_num(s.mean), hi + mark, mx, cv,
            f"{s.count} ({s.sessions})"]


def _compare_cell(row: Row) -> str:
    c = row.comparison
    if c is None:
        return "n/a"
    mark = f" ({c.significance})" if c.significance else ""
    return fmt_pct(c.change_pct) + mark + (SAMPLE_TEST if c.basis == SAMPLES else "")


def _grid(header: list[str], body: list[list[str]], left: int) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells):
        return " | ".join(c.ljust(w) if i < left else c.rjust(w)
                          for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(header), "-+-".join("-" * w for w in widths), *(line(r) for r in body)]


def table(report: Report, relative: bool = False) -> str:
    """The human view: one swprofile in full, or the baseline's mean and % changes."""
    head = f"SUT: {report.sut}    store: {report.store}"
    if len(report.swprofiles) == 1:
        lines = [head, f"swprofile: {report.swprofiles[0]}", ""]
        lines += _grid(list(SINGLE_HEADER), [_single_cells(r, relative) for r in report.rows], 2)
        notes = _single_notes(report, relative)
    else:
        lines = [head, f"baseline: {report.swprofiles[0]} (mean); other columns: change of the "
                       "mean", ""]
        lines += _grid(["Benchmark", "Result Class", *report.swprofiles], _compare_body(report), 2)
        notes = _compare_notes(report)
    return "\n".join(lines + [""] + notes) + "\n"


def _compare_body(report: Report) -> list[list[str]]:
    body: dict[tuple[str, str], list[str]] = {}
    for row in report.rows:
        cells = body.setdefault((row.benchmark, row.resultclass),
                                [row.benchmark, _rc_label(row)] + ["-"] * len(report.swprofiles))
        i = report.swprofiles.index(row.swprofile)
        s = row.summary
        cells[2 + i] = (fmt_num(s.mean) + (ONE_SESSION if s.basis == SAMPLES else "")
                        if i == 0 else _compare_cell(row))
    return list(body.values())


def _single_notes(report: Report, relative: bool) -> list[str]:
    notes = ["count: samples (sessions). ci95min/ci95max: 95% Student-t interval of the mean over "
             "per-session means (sessions-1 df).",
             "cv: sample standard deviation / mean over all samples."]
    if relative:
        notes.append("min, ci95min, ci95max, max: % difference from the mean.")
    if any(r.summary.basis == SAMPLES for r in report.rows):
        notes.append(f"{ONE_SESSION} one session only: interval over that boot's samples "
                     "(count-1 df); it misses boot-to-boot noise.")
    return notes


def _compare_notes(report: Report) -> list[str]:
    notes = ["(R) regression, (I) improvement: Welch's t-test, two-sided, p < 0.05, over "
             "per-session means, by the result class's direction."]
    if any(r.comparison and r.comparison.basis == SAMPLES for r in report.rows):
        notes.append(f"{SAMPLE_TEST} a side has one session: test over all samples (repeats in one "
                     "boot are correlated; treat as indicative).")
    if any(r.summary.basis == SAMPLES for r in report.rows if r.swprofile == report.swprofiles[0]):
        notes.append(f"{ONE_SESSION} baseline has one session.")
    if any(r.comparison and r.comparison.basis not in (SESSIONS, SAMPLES) for r in report.rows):
        notes.append("no mark possible where a side has a single sample.")
    return notes


def to_json(report: Report) -> str:
    return json.dumps(report.dicts(), indent=2) + "\n"


def to_csv(report: Report) -> str:
    rows = report.dicts()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


def render(report: Report, fmt: str = "table", relative: bool = False) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    return table(report, relative)
