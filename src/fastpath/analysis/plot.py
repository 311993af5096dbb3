"""Plot a Report: per result class, each swprofile's per-session means and the 95% CI."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from fastpath.analysis.render import fmt_pct  # noqa: E402
from fastpath.analysis.report import Report, Row  # noqa: E402
from fastpath.errors import UserError  # noqa: E402

COLOURS = {"R": "#c0392b", "I": "#1e8449", None: "#34495e"}
MAX_PANELS = 36


def _panels(report: Report) -> list[list[Row]]:
    panels: dict[tuple[str, str], list[Row]] = {}
    for row in report.rows:
        panels.setdefault((row.benchmark, row.resultclass), []).append(row)
    return list(panels.values())


def _label(row: Row) -> str:
    c = row.comparison
    if c is None:
        return row.swprofile
    mark = f" ({c.significance})" if c.significance else ""
    return f"{row.swprofile}\n{fmt_pct(c.change_pct)}{mark}"


def _draw(ax, rows: list[Row], swprofiles: tuple[str, ...]) -> None:
    rng = np.random.default_rng(0)      # fixed jitter: the same report gives the same picture
    ticks, labels = [], []
    for row in rows:
        x = swprofiles.index(row.swprofile)
        s = row.summary
        colour = COLOURS[row.comparison.significance if row.comparison else None]
        means = np.asarray(s.session_means)
        ax.scatter(x + rng.uniform(-0.12, 0.12, means.size), means, s=22, alpha=0.6,
                   color=colour, label="session mean" if x == 0 else None, zorder=2)
        if s.ci95min is not None:
            ax.errorbar(x + 0.25, s.mean, yerr=[[s.mean - s.ci95min], [s.ci95max - s.mean]],
                        fmt="D", color=colour, capsize=5, lw=2, ms=5, zorder=3,
                        label="mean, 95% CI" if x == 0 else None)
        ticks.append(x)
        labels.append(_label(row) + ("\n(CI over samples)" if s.basis == "samples" else ""))
    first = rows[0]
    if first.swprofile == swprofiles[0]:
        ax.axhline(first.summary.mean, ls="--", lw=0.8, color="#7f8c8d", zorder=1)
    direction = "higher" if first.improvement == "higher" else "lower"
    ax.set_title(f"{first.benchmark}  {first.resultclass}", fontsize=10)
    ax.set_ylabel(f"{first.unit or 'value'} ({direction} is better)", fontsize=9)
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_xlim(-0.6, len(swprofiles) - 0.4)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.15)


def figure(report: Report):
    """The matplotlib Figure of ``plot`` (the caller closes it)."""
    panels = _panels(report)[:MAX_PANELS]
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    # constrained layout reserves room for the suptitle, so it never overlaps the first row
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.8 * nrows), squeeze=False,
                             layout="constrained")
    for ax, rows in zip(axes.flat, panels):
        _draw(ax, rows, report.swprofiles)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"SUT {report.sut}: per-session means and 95% CI of the mean "
                 f"(baseline {report.swprofiles[0]})", fontsize=11)
    return fig


def plot(report: Report, path: str) -> int:
    """Write a PNG with one panel per result class (at most MAX_PANELS); returns panel count."""
    fig = figure(report)
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot write plot {path}: {err}") from None
    finally:
        plt.close(fig)
    return min(len(_panels(report)), MAX_PANELS)
