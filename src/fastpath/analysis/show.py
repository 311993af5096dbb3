"""`fastpath result show` as one library call: open the store read-only, compare, render, plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastpath.analysis.render import render
from fastpath.analysis.report import compare_swprofiles
from fastpath.errors import UserError


@dataclass(frozen=True)
class Shown:
    text: str                     # what `result show` prints on stdout
    plot: str | None = None       # where the PNG went (None: no plot asked)
    panels: int = 0               # result classes drawn
    classes: int = 0              # result classes in the report (more than MAX_PANELS: cut)

    def plot_line(self) -> str:
        """The line telling the user where the plot went."""
        if not self.panels:
            return f"plot: {self.plot} not written (no result class to draw)"
        cut = f" (the first {self.panels} of {self.classes})" if self.panels < self.classes else ""
        return (f"plot: {self.panels} result class{'es' if self.panels != 1 else ''}{cut} "
                f"written to {self.plot}")


def show(url: str, swprofiles: Sequence[str], *, benchmark: str = "*", resultclass: str = "*",
         sut: str | None = None, fmt: str = "table", relative: bool = False,
         changed_only: bool = False, plot: str | None = None) -> Shown:
    """What `result show` prints; writes the PNG ``plot`` too when given.

    ``relative`` applies to one swprofile (with several the table shows % changes already);
    ``changed_only`` needs several (only result classes marked (R) or (I) are kept): given
    otherwise they are refused with UserError."""
    from fastpath.store import open_store

    if relative and len(swprofiles) > 1:
        raise UserError("{relative} applies to one {swprofiles}: with several, the table already "
                        "shows each one's %change from the baseline (the first)", params=("relative", "swprofiles"))
    if changed_only and len(swprofiles) < 2:
        raise UserError("{changed_only} needs two or more {swprofiles} (it keeps the result classes "
                        "whose change from the first is marked (R) or (I))", params=("changed_only", "swprofiles"))
    with open_store(url, readonly=True) as store:
        report = compare_swprofiles(store, swprofiles, benchmark=benchmark,
                                    resultclass=resultclass, sut=sut)
    if changed_only:
        report = report.changed_only()
    panels = classes = 0
    if plot:
        from fastpath.analysis.plot import plot as plot_report

        classes = len({(r.benchmark, r.resultclass) for r in report.rows})
        if classes:
            panels = plot_report(report, plot)
    return Shown(render(report, fmt, relative), plot, panels, classes)
