"""A BisectionReport as one self-contained HTML page: inline CSS, inline SVG plots, no script
and no fetch of anything. The same content as the text report (text.py builds the blocks that
are plain lines), with the comparison and the path as tables, plus the plots (plots.py)."""

from __future__ import annotations

from html import escape

from fastpath.analysis.render import fmt_num, fmt_pct
from fastpath.report import plots, text
from fastpath.report.model import FOUND, BisectionReport, Point

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1.5em; max-width: 70em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
pre { background: #f6f8fa; padding: .8em; white-space: pre-wrap; font-size: .85em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f0f0f0; text-align: left; } td.name { text-align: left; }
td { white-space: nowrap; } td:last-child { white-space: normal; }
tr.R td { background: #fdecea; } tr.I td { background: #e9f7ef; } tr.culprit td { font-weight: bold; }
.R { color: #c0392b; font-weight: bold; } .I { color: #1e8449; font-weight: bold; }
figure { margin: 1em 0; } figcaption { font-size: .85em; color: #555; }
.status-found { color: #c0392b; } .status-running, .status-bounded { color: #b9770e; }
""".strip()


def _cls(name: str) -> str:
    return f' class="{name}"' if name else ""


def _pre(lines: list[str], ident: str = "") -> str:
    return (f'<pre id="{ident}">' if ident else "<pre>") + escape("\n".join(lines)) + "</pre>"


def _table(header: list[str], rows: list[tuple[str, list[str]]], left: set[int], ident: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for cls, cells in rows:
        tds = "".join(f"<td{_cls('name' if i in left else '')}>{escape(c)}</td>" for i, c in enumerate(cells))
        body.append(f"<tr{_cls(cls)}>{tds}</tr>")
    return f'<table id="{ident}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _stddev(x: float | None) -> str:
    return "-" if x is None else f"\u00b1{x:.1f}%"


def comparison_table(report: BisectionReport) -> str:
    header = ["result class", "unit", "parent mean", "%stddev", "sessions", "%change", "p", "mark",
              "culprit mean", "%stddev", "sessions", "note"]
    rows = [(r.mark or "", [r.resultclass, r.unit, fmt_num(r.parent_mean), _stddev(r.parent_stddev_pct),
                            str(r.parent_sessions), fmt_pct(r.change_pct),
                            "-" if r.p_value is None else f"{r.p_value:.2g}", f"({r.mark})" if r.mark else "",
                            fmt_num(r.culprit_mean), _stddev(r.culprit_stddev_pct), str(r.culprit_sessions),
                            r.note]) for r in report.classes]
    return _table(header, rows, {0, 1, 11}, "comparison")


def path_table(report: BisectionReport) -> str:
    header, body = text.path_rows(report)
    culprit = report.answer.culprit.sha[:12] if report.answer.culprit else None
    rows = [("culprit" if cells[1] == culprit else "", cells) for cells in body]
    return _table(header, rows, {0, 1, 2, len(header) - 1}, "path")


def _find(report: BisectionReport, sha: str | None) -> Point | None:
    if not sha:
        return None
    return next((p for p in [*report.path, report.good, report.bad] if p.commit.sha == sha and p.values), None)


def _figure(ident: str, svg: str, caption: str) -> str:
    return f'<figure id="{ident}">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def render(report: BisectionReport) -> str:
    a = report.answer
    head = text.headline(report)
    parts = [f'<h1 id="headline">{escape(head[0])}</h1>', _pre(head[1:]) if len(head) > 1 else "",
             f'<p class="status-{escape(a.status)}">status: <b>{escape(a.status)}</b></p>',
             "<h2>Commit</h2>", _pre(text.commit_block(report), "commit"),
             "<h2>Testcase</h2>", _pre(text.testcase_block(report), "testcase"),
             "<h2>SUT</h2>", _pre(text.sut_block(report), "sut")]
    if a.culprit:
        parts += ["<h2>Culprit against its parent, every result class</h2>",
                  comparison_table(report) if report.classes else "<p>no comparison: the culprit or its "
                  "parent has no sessions in the output store</p>",
                  "<p>(R)/(I): Welch's test over session means, p &lt; 0.05, only with at least 2 sessions on "
                  "each side.</p>"]
    for title, items in (("Other changes that make it worse", a.further),
                         ("Improvements in the range", a.improvements),
                         ("Candidates", a.candidates if a.status != FOUND else ())):
        block = text.candidates_block(title, items, report.unit)
        if block:
            parts += [f"<h2>{escape(title)}</h2>", _pre(block[1:])]
    parts += ["<h2>Bisection path</h2>", path_table(report), "<h2>Plots</h2>",
              _figure("plot-history", plots.history_svg(report),
                      "Each measured commit's session values (dots) and mean with its 95% interval "
                      "(squares); the bands are the good and bad baselines' 95% intervals.")]
    parent = _find(report, a.parent.sha if a.parent else None)
    culprit = _find(report, a.culprit.sha if a.culprit else None)
    if parent or culprit:
        parts.append(_figure("plot-distributions", plots.distributions_svg(report, parent, culprit),
                             "Session values of the culprit and of the commit it is compared with."))
    if report.posterior:
        parts.append(_figure("plot-posterior", plots.posterior_svg(report),
                             "The engine's probability that each commit is the first bad one."))
    if report.notes:
        parts += ["<h2>Notes</h2>", _pre(list(report.notes))]
    parts += ["<h2>To reproduce</h2>", _pre(list(report.reproduce), "reproduce")]
    title = escape(head[0])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n")
