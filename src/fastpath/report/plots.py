"""The report's plots as inline SVG (matplotlib, text kept as text): no file, no network.

- ``history_svg``: every measured commit's session values along the history (or in test
  order when the history is unknown), with the good and bad baselines' 95% bands;
- ``distributions_svg``: the culprit's and its parent's session values;
- ``posterior_svg``: the engine's posterior over positions.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from fastpath.report.model import BisectionReport, Point  # noqa: E402

GOOD, BAD, TESTED, CULPRIT = "#1e8449", "#c0392b", "#34495e", "#d35400"


def _svg(fig) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fastpath"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]       # drop the XML prolog and DOCTYPE: inline in HTML
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if 0 <= start < end:                   # RDF about matplotlib: nothing a reader needs
        text = text[:start] + text[end + len("</metadata>"):]
    return text


def _x(report: BisectionReport, p: Point, fallback: int) -> float:
    return p.position if p.position is not None else fallback


def history_svg(report: BisectionReport) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    known = bool(report.history)
    last = len(report.history) - 1 if known else len(report.path) + 1
    for end, colour, x in ((report.good, GOOD, 0), (report.bad, BAD, last)):
        if end.ci95:
            ax.axhspan(*end.ci95, color=colour, alpha=0.15, lw=0, label=f"{end.role} baseline 95% interval")
        if end.mean is not None:
            ax.axhline(end.mean, color=colour, lw=1, ls="--")
        ax.plot([x] * end.sessions, end.values, "o", color=colour, ms=4, alpha=0.7)
    culprit = report.answer.culprit.sha if report.answer.culprit else None
    for p in report.path:
        x = _x(report, p, p.order)
        colour = CULPRIT if p.commit.sha == culprit else GOOD if p.verdict == "GOOD" else BAD \
            if p.verdict == "BAD" else TESTED
        ax.plot([x] * p.sessions, p.values, "o", color=colour, ms=4, alpha=0.8)
        if p.ci95:
            ax.errorbar([x + 0.15], [p.mean], yerr=[[p.mean - p.ci95[0]], [p.ci95[1] - p.mean]], fmt="s",
                        color=colour, ms=3, capsize=3)
        if p.verdict == "SKIP":
            ax.annotate("skip", (x, report.good.mean or 0), ha="center", fontsize=7, color=TESTED)
    if culprit and report.answer.culprit in report.history:
        ax.axvline(report.history.index(report.answer.culprit) - 0.5, color=CULPRIT, lw=1, ls=":",
                   label=f"first bad commit {culprit[:12]}")
    ax.set_xlabel("position in the history (good end 0)" if known else "test order (history unknown)")
    ax.set_ylabel(f"{report.resultclass} ({report.unit})" if report.unit else report.resultclass)
    ax.set_title("session values along the bisection", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return _svg(fig)


def distributions_svg(report: BisectionReport, parent: Point | None, culprit: Point | None) -> str:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    shown = [(p, c) for p, c in ((parent, GOOD), (culprit, CULPRIT)) if p is not None and p.values]
    for i, (p, colour) in enumerate(shown):
        ax.boxplot([p.values], positions=[i], widths=0.5, showfliers=False)
        ax.plot([i] * p.sessions, p.values, "o", color=colour, ms=5, alpha=0.8)
    ax.set_xticks(range(len(shown)), [f"{'culprit' if p is culprit else 'parent'}\n{p.commit.sha[:12]}"
                                      for p, _ in shown])
    ax.set_ylabel(f"{report.resultclass} ({report.unit})" if report.unit else report.resultclass)
    ax.set_title("culprit and parent: session values", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return _svg(fig)


def posterior_svg(report: BisectionReport) -> str:
    fig, ax = plt.subplots(figsize=(8, 2.6))
    xs = range(len(report.posterior))
    culprit = report.answer.culprit
    colours = [CULPRIT if culprit and c.sha == culprit.sha else TESTED for c in report.history]
    if len(report.posterior) <= 200:
        ax.bar(xs, report.posterior, color=colours)
    else:                               # thousands of commits: a filled step line, not one bar each
        ax.fill_between(xs, report.posterior, step="mid", color=TESTED)
        if culprit and culprit in report.history:
            ax.axvline(report.history.index(culprit), color=CULPRIT, lw=1, ls=":")
    ax.set_ylim(0, 1)
    ax.set_xlabel("position in the history (good end 0)")
    ax.set_ylabel("P(first bad commit)")
    ax.set_title(f"posterior of the {report.engine} engine", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return _svg(fig)
