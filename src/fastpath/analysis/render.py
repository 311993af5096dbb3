"""Render a Report as a text table, CSV or JSON (what `fastpath result show` prints)."""

from __future__ import annotations

import csv
import io
import json
import math

from fastpath.analysis.report import KEYS, Report, Row
from fastpath.analysis.stats import ALPHA, NONE, SAMPLES

SINGLE_HEADER = ("Benchmark", "Result Class", "min", "ci95min", "mean", "ci95max", "max", "cv",
                 "%stddev", "samples", "sessions")
ONE_SESSION = "*"


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


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _sessions_cell(s) -> str:
    if s.boots == s.sessions:
        return str(s.sessions)
    return f"{s.sessions} in {s.boots} boot" + ("s" if s.boots > 1 else "")


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
            fmt_pct(s.stddev_pct, signed=False), str(s.count), _sessions_cell(s)]


def _grid(header: list[str], body: list[list[str]], left: int,
          groups: list[tuple[str, int]] | None = None) -> list[str]:
    """Aligned columns; ``groups`` labels spans of columns after the ``left`` ones, in a line
    above the header (label, number of columns)."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    if groups:                  # widen a span's last column when its label is longer
        at = left
        for label, n in groups:
            span = sum(widths[at:at + n]) + 3 * (n - 1)
            widths[at + n - 1] += max(0, len(label) - span)
            at += n

    def line(cells):
        return " | ".join(c.ljust(w) if i < left else c.rjust(w)
                          for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    lines = [line(header), "-+-".join("-" * w for w in widths), *(line(r) for r in body)]
    if groups:
        cells, at = [" " * w for w in widths[:left]], left
        for label, n in groups:
            cells.append(label.ljust(sum(widths[at:at + n]) + 3 * (n - 1)))
            at += n
        lines.insert(0, " | ".join(cells).rstrip())
    return lines


KERNEL_COLUMNS = ("mean", "%stddev", "sessions")
CHANGE_COLUMNS = ("%change", "95% CI", "p")


def table(report: Report, relative: bool = False) -> str:
    """The human view: one swprofile in full; several as lkp shows them (every swprofile's
    mean, %stddev and sessions; for each compared one the change, its interval and p)."""
    head = f"SUT{'s' if len(report.suts) > 1 else ''}: {report.sut}    store: {report.store}"
    if len(report.swprofiles) == 1:
        lines = [head, f"swprofile: {report.swprofiles[0]}", ""]
        lines += _grid(list(SINGLE_HEADER), [_single_cells(r, relative) for r in report.rows], 2)
        notes = _single_notes(report, relative)
    else:
        lines = [head, f"baseline: {report.swprofiles[0]}", ""]
        groups = [(sw, len(KERNEL_COLUMNS) + (len(CHANGE_COLUMNS) if i else 0))
                  for i, sw in enumerate(report.swprofiles)]
        header = ["Benchmark", "Result Class", *KERNEL_COLUMNS]
        header += [*KERNEL_COLUMNS, *CHANGE_COLUMNS] * (len(report.swprofiles) - 1)
        lines += _grid(header, _compare_body(report), 2, groups)
        notes = _compare_notes(report)
    notes += _session_notes(report)
    if len(report.swprofiles) == 1 and len(report.suts) > 1:
        notes.append(f"sessions from {len(report.suts)} SUTs ({', '.join(report.suts)}) pooled: "
                     "the interval and %stddev count their difference in level as noise; --sut "
                     "shows one.")
    if report.hidden:
        notes.append(f"--changed-only: {len(_classes(report))} of "
                     f"{len(_classes(report)) + report.hidden} result classes shown (those marked "
                     "(R) or (I)).")
    return "\n".join(lines + [""] + notes) + "\n"


def _classes(report: Report) -> set[tuple[str, str]]:
    return {(r.benchmark, r.resultclass) for r in report.rows}


def _kernel_cells(row: Row | None, compared: bool) -> list[str]:
    if row is None:
        return ["-"] * (len(KERNEL_COLUMNS) + (len(CHANGE_COLUMNS) if compared else 0))
    s = row.summary
    cells = [fmt_num(s.mean), fmt_pct(s.stddev_pct, signed=False), _sessions_cell(s)]
    if compared:
        c = row.comparison
        if c is None:
            return cells + ["-"] * len(CHANGE_COLUMNS)
        mark = f" ({c.significance})" if c.significance else ""
        ci = ("-" if c.ci95min is None
              else f"{fmt_pct(c.ci95min)[:-1]}..{fmt_pct(c.ci95max)}")
        cells += [fmt_pct(c.change_pct) + mark, ci, fmt_p(c.p_value)]
    return cells


def _compare_body(report: Report) -> list[list[str]]:
    by_class: dict[tuple[str, str], dict[str, Row]] = {}
    for row in report.rows:
        by_class.setdefault((row.benchmark, row.resultclass), {})[row.swprofile] = row
    body = []
    for per in by_class.values():
        first = next(iter(per.values()))
        cells = [first.benchmark, _rc_label(first)]
        for i, sw in enumerate(report.swprofiles):
            cells += _kernel_cells(per.get(sw), i > 0)
        body.append(cells)
    return body


def _single_notes(report: Report, relative: bool) -> list[str]:
    notes = ["ci95min/ci95max: 95% Student-t interval of the mean over per-session means "
             "(sessions-1 df).",
             "cv: sample standard deviation / mean over all samples; %stddev: standard deviation "
             "of the session means / mean."]
    if relative:
        notes.append("min, ci95min, ci95max, max: % difference from the mean.")
    if any(r.summary.basis == SAMPLES for r in report.rows):
        notes.append(f"{ONE_SESSION} one session (boot) only: interval over that boot's samples "
                     "(count-1 df); it misses boot-to-boot noise.")
    return notes


def _compare_notes(report: Report) -> list[str]:
    compared = [r.comparison for r in report.rows if r.comparison is not None]
    adjusted = bool(compared) and all(c.suts for c in compared)
    notes = ["mean: mean of the per-session means; %stddev: standard deviation of the session "
             "means / mean; sessions: sessions counted.",
             "%change: change of the mean from the baseline's, with its 95% interval (Welch); "
             "p: Welch's t-test, two-sided, over per-session means;",
             "(R) regression, (I) improvement: p < 0.05, by the result class's direction."]
    if adjusted:
        notes[1] = ("%change: change from the baseline within each SUT, in % of the baseline's "
                    "level there, with its 95% interval; p: its t-test, two-sided, over "
                    "per-session means;")
    untested = [sw for sw in report.swprofiles
                if any(r.swprofile == sw and r.summary.boots < 2 for r in report.rows)]
    if untested and any(r.comparison and r.comparison.basis == NONE for r in report.rows):
        notes.append(f"no test, no mark where a side has fewer than 2 sessions (boots): "
                     f"{', '.join(untested)}; repeats within one boot are not independent.")
    return notes + _sut_notes(report)


def _sut_notes(report: Report) -> list[str]:
    """What the table did with several SUTs: adjusted for them, or could not (confounded)."""
    if len(report.suts) < 2:
        return []
    compared = [r for r in report.rows if r.comparison is not None]
    notes = [f"sessions from {len(report.suts)} SUTs ({', '.join(report.suts)}): each "
             "swprofile's mean, %stddev and sessions pool them."]
    adjusted = [r for r in compared if r.comparison.suts]
    if adjusted:
        used = sorted({s for r in adjusted for s in r.comparison.suts}, key=report.suts.index)
        which = sorted({r.swprofile for r in adjusted}, key=report.swprofiles.index)
        part = "" if len(adjusted) == len(compared) else f" ({', '.join(which)})"
        notes.append(f"adjusted for the SUT{part}: %change, its interval and p from the kernel + "
                     "SUT additive model over session means (the SUTs' levels removed: "
                     "within-SUT noise only), measured on the SUTs that ran both: "
                     f"{', '.join(used)}.")
    short = sorted({r.swprofile for r in adjusted if r.comparison.basis == NONE
                    and r.summary.boots >= 2}, key=report.swprofiles.index)
    if short:
        notes.append(f"no test, no mark for {', '.join(short)}: too few sessions to measure the "
                     "noise once each SUT's level is removed (sessions - SUTs - 1 < 1).")
    confounded = sorted({r.swprofile for r in compared if r.comparison.confounded},
                        key=report.swprofiles.index)
    for sw in confounded:
        notes.append(f"warning: no SUT ran both {report.swprofiles[0]} and {sw}: SUT and kernel "
                     "are confounded; their %change, interval and p pool the SUTs as one machine "
                     "(a difference between the SUTs counts as the kernel's).")
    differs = [f"{r.benchmark} {r.resultclass} ({r.swprofile}, p={fmt_p(p)})"
               for r in adjusted if (p := r.comparison.sut_interaction_p) is not None
               and p < ALPHA]
    if differs:
        notes.append("the change differs between the SUTs (SUT x kernel F test, p < 0.05) for "
                     f"{_few_items(differs)}: the adjusted %change is their weighted average; "
                     "--sut shows each SUT.")
    return notes


def _few_items(items: list[str], limit: int = 4) -> str:
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def _session_notes(report: Report) -> list[str]:
    notes = []
    for sw in report.swprofiles:
        info = report.notes.get(sw)
        if info is None:
            continue
        for group in info.shared_boots:
            notes.append(f"{sw}: sessions {_ids(group)} ran in one boot (the same boot id; a plan "
                         f"without a kernel does not reboot): not independent, counted as one boot.")
        if info.left_out:
            listed = ", ".join(f"{i} ({status})" for i, status in info.left_out)
            notes.append(f"{sw}: left out of the statistics: incomplete session"
                         f"{'s' if len(info.left_out) > 1 else ''} {listed}, "
                         f"{info.left_out_samples} samples.")
    return notes


def _ids(ids) -> str:
    return ", ".join(str(i) for i in ids)


def to_json(report: Report) -> str:
    return json.dumps(report.dicts(), indent=2) + "\n"


def to_csv(report: Report) -> str:
    rows = report.dicts()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(KEYS), lineterminator="\n")
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
