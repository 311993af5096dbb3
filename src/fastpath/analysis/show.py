"""`fastpath result show` as one library call: open the store read-only, compare, render, plot."""

from __future__ import annotations

from collections.abc import Sequence

from fastpath.analysis.render import render
from fastpath.analysis.report import compare_swprofiles


def show(url: str, swprofiles: Sequence[str], *, benchmark: str = "*", resultclass: str = "*",
         sut: str | None = None, fmt: str = "table", relative: bool = False,
         plot: str | None = None) -> str:
    """The text `result show` prints; writes the PNG ``plot`` too when given."""
    from fastpath.store import open_store

    with open_store(url, readonly=True) as store:
        report = compare_swprofiles(store, swprofiles, benchmark=benchmark,
                                    resultclass=resultclass, sut=sut)
    if plot:
        from fastpath.analysis.plot import plot as plot_report

        plot_report(report, plot)
    return render(report, fmt, relative)
