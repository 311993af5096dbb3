"""The report's plots are inline SVG with their text kept as text, also for a long history."""

from __future__ import annotations

import dataclasses

from fastpath.report import bisection, plots
from fastpath.report.model import Commit
from tests.report import builder


def test_plots_are_inline_svg(tmp_path):
    ctx, shas = builder.engine_bisection(tmp_path)
    report = bisection.load(str(ctx))
    for svg in (plots.history_svg(report), plots.posterior_svg(report),
                plots.distributions_svg(report, report.path[0], report.path[2])):
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<text" in svg and "<image" not in svg
        assert "http" not in svg.replace("http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "")
    assert "P(first bad commit)" in plots.posterior_svg(report)


def test_posterior_of_thousands_of_commits_is_one_filled_line(tmp_path):
    ctx, shas = builder.engine_bisection(tmp_path)
    report = bisection.load(str(ctx))
    n = 5000
    history = tuple(Commit(f"{i:040x}") for i in range(n))
    posterior = tuple(1.0 if i == 4000 else 0.0 for i in range(n))
    long = dataclasses.replace(report, history=history, posterior=posterior,
                               answer=dataclasses.replace(report.answer, culprit=history[4000]))
    svg = plots.posterior_svg(long)
    assert svg.count("<path") < 100          # not one bar per commit
