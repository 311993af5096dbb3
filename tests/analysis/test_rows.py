"""build_rows and rendering, on the bundled demo data grouped without a store."""

from __future__ import annotations

import csv
import io
import json

import pytest

from fastpath.analysis.group import group_samples
from fastpath.analysis.render import fmt_num, render
from fastpath.analysis.report import CONTRACT_KEYS, KEYS, Report, ResultClassInfo, build_rows
from fastpath.data import make_demo

BASE, CAND = "6.1-baseline", "6.1-regression"


def demo_report(swprofiles=(BASE, CAND), drop=None) -> Report:
    rows = [r for r in make_demo.rows() if (r[1], r[3]) != drop]
    groups = {sw: [] for sw in swprofiles}
    for g in group_samples([r[2] for r in rows], [r[3] for r in rows], [r[1] for r in rows],
                           [r[0] for r in rows], [r[6] for r in rows],
                           [float(r[8]) for r in rows]):
        if g.swprofile in groups:
            groups[g.swprofile].append(g)
    infos = {(r[2], r[3]): ResultClassInfo(r[4], r[5]) for r in rows}
    return Report("demo", tuple(swprofiles), "fastpath-lab",
                  tuple(build_rows(groups, list(swprofiles), infos)))


def test_demo_has_one_regression_one_improvement_one_unchanged():
    marks = {r.resultclass: r.comparison.significance for r in demo_report().rows if r.comparison}
    assert marks == {"sysbenchthread-110": "R", "events-per-second": "I", "ns_per_call": None}


def test_bundled_csv_is_what_the_script_generates():
    with open(make_demo.DEMO_CSV, newline="") as f:
        body = list(csv.reader(f))
    assert tuple(body[0]) == make_demo.HEADER
    assert [tuple(r) for r in body[1:]] == [tuple(map(str, r)) for r in make_demo.rows()]


def test_rows_in_json_follow_the_contract():
    data = json.loads(render(demo_report(), "json"))
    assert len(data) == 6
    for row in data:
        assert tuple(row)[:len(CONTRACT_KEYS)] == CONTRACT_KEYS
        assert tuple(row)[len(CONTRACT_KEYS):] == (
            "baseline", "change_pct", "significance", "sessions", "ci_basis", "boots",
            "stddev_pct", "change_ci95min", "change_ci95max", "p_value", "test_basis",
            "incomplete_sessions", "incomplete_samples")
    cand = [r for r in data if r["swprofile"] == CAND]
    assert {r["baseline"] for r in cand} == {BASE}
    base = [r for r in data if r["swprofile"] == BASE]
    assert all(r["baseline"] is None and r["change_pct"] is None for r in base)
    thread = next(r for r in cand if r["resultclass"] == "sysbenchthread-110")
    assert thread["significance"] == "R" and thread["change_pct"] > 5 and thread["unit"] == "ms"


@pytest.mark.parametrize("swprofiles", [(BASE,), (BASE, CAND), (CAND, BASE, "6.1-extra")])
def test_columns_are_the_same_whatever_the_number_of_swprofiles(swprofiles):
    """The DESIGN.md keys first, then the rest, for one, two or three swprofiles, in JSON and CSV
    (a swprofile absent from the data, here 6.1-extra, changes nothing)."""
    report = demo_report(swprofiles)
    data = json.loads(render(report, "json"))
    assert all(tuple(r) == KEYS for r in data)
    assert tuple(KEYS[:len(CONTRACT_KEYS) + 3]) == CONTRACT_KEYS + (
        "baseline", "change_pct", "significance")
    header = render(report, "csv").splitlines()[0]
    assert header == ",".join(KEYS)
    assert all(r["count"] == 15 and r["sessions"] == 3 == r["boots"] for r in data)
    base = [r for r in data if r["swprofile"] == swprofiles[0]]
    assert all(r["baseline"] is None and r["p_value"] is None for r in base)


def test_empty_report_still_has_the_csv_header():
    assert render(Report("demo", (BASE,), "lab", ()), "csv") == ",".join(KEYS) + "\n"


def test_csv_equals_json():
    report = demo_report()
    from_csv = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    from_json = json.loads(render(report, "json"))
    assert len(from_csv) == len(from_json)
    for c, j in zip(from_csv, from_json):
        assert c.keys() == j.keys()
        assert float(c["mean"]) == pytest.approx(j["mean"])
        assert c["significance"] == (j["significance"] or "")


def test_compare_table_marks_changes():
    text = render(demo_report())
    thread = next(line for line in text.splitlines() if "sysbenchthread-110" in line)
    assert "(R)" in thread and thread.split("|")[-3].strip().startswith("+")
    assert "(I)" in next(line for line in text.splitlines() if "events-per-second" in line)
    syscall = next(line for line in text.splitlines() if "ns_per_call" in line)
    assert "(R)" not in syscall and "(I)" not in syscall
    assert "Welch's t-test" in text


def test_missing_candidate_class_shows_a_dash_and_no_row():
    report = demo_report(drop=(CAND, "ns_per_call"))
    assert [r.swprofile for r in report.rows if r.resultclass == "ns_per_call"] == [BASE]
    line = next(x for x in render(report).splitlines() if "ns_per_call" in x)
    assert [c.strip() for c in line.split("|")][-6:] == ["-"] * 6


def test_relative_table_shows_percent_of_mean():
    report = demo_report((BASE,))
    row = next(r for r in report.rows if r.resultclass == "sysbenchthread-110")
    s = row.summary
    line = next(x for x in render(report, relative=True).splitlines() if "sysbenchthread" in x)
    cells = [c.strip() for c in line.split("|")]
    assert cells[2] == f"{(s.min - s.mean) / s.mean * 100:+.2f}%"
    assert cells[5] == f"{(s.ci95max - s.mean) / s.mean * 100:+.2f}%"
    assert cells[4] == fmt_num(s.mean)


@pytest.mark.parametrize("x, text", [(1234.5, "1234"), (84.587, "84.59"), (0.012345, "0.01235"),
                                     (0, "0"), (None, "-"), (-4.2431, "-4.243")])
def test_fmt_num(x, text):
    assert fmt_num(x) == text


def test_plot_writes_a_png_even_for_one_sample_and_one_session(tmp_path):
    from fastpath.analysis.plot import plot
    from fastpath.analysis.stats import summarize
    from fastpath.analysis.report import Row

    one = Row("b/x", "rc", "ns", "lower", "a", summarize([1.0], [0]))
    flat = Row("b/y", "rc", "", "higher", "a", summarize([1.0, 1.2, 0.9], [0, 0, 0]))
    path = tmp_path / "edge.png"
    assert plot(Report("demo", ("a",), "lab", (one, flat)), str(path)) == 2
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert plot(demo_report(), str(tmp_path / "demo.png")) == 3
