"""`fastpath result show` and compare_swprofiles on real stores (CSV directory and SQLite)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from scipy import stats as sps

from fastpath.analysis.report import compare_swprofiles
from fastpath.cli.main import main
from fastpath.data import make_demo
from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile

BASE, CAND = "6.1-baseline", "6.1-regression"


@pytest.fixture(params=["csv", "sqlite"])
def demo_url(request, tmp_path):
    url = (str(tmp_path / "store") if request.param == "csv"
           else f"sqlite:///{tmp_path / 'store.db'}")
    assert main(["result", "import", url, str(make_demo.DEMO_CSV)]) == 0
    return url


def run(capsys, *argv):
    capsys.readouterr()                     # drop what set-up printed (e.g. result import)
    status = main(["result", "show", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def make_store(url, samples, improvement="higher"):
    """A store holding ``samples``: (sut, swprofile, session, repeat, value) for bench/x rc."""
    with open_store(url) as store:
        for sut in {s[0] for s in samples}:
            store.put_sut(Sut(sut))
        for sw in {s[1] for s in samples}:
            store.put_swprofile(SwProfile(sw))
        store.put_benchmark(Benchmark("bench/x", "bench", "x"))
        store.put_resultclass(ResultClass("bench/x", "rc", "ops/s", improvement))
        store.append_samples(Sample(sut, sw, "bench/x", "rc", ses, rep, float(v))
                             for sut, sw, ses, rep, v in samples)


def test_table_compares_the_demo(capsys, demo_url):
    status, out, err = run(capsys, demo_url, "--swprofile", BASE, "--swprofile", CAND)
    assert status == 0, err
    lines = {line.split("|")[1].strip().split(" ")[0]: line for line in out.splitlines()
             if line.count("|") == 10}
    assert "(R)" in lines["sysbenchthread-110"]
    assert "(I)" in lines["events-per-second"]
    assert "(R)" not in lines["ns_per_call"] and "(I)" not in lines["ns_per_call"]
    assert "Welch's t-test" in out and "SUT: fastpath-lab" in out


def test_single_table_columns(capsys, demo_url):
    status, out, _ = run(capsys, demo_url, "--swprofile", BASE)
    assert status == 0
    header = next(line for line in out.splitlines() if line.startswith("Benchmark"))
    assert [c.strip() for c in header.split("|")] == [
        "Benchmark", "Result Class", "min", "ci95min", "mean", "ci95max", "max", "cv", "%stddev",
        "samples", "sessions"]
    thread = next(line for line in out.splitlines() if "sysbenchthread-110" in line)
    assert [c.strip() for c in thread.split("|")][-2:] == ["15", "3"]


def test_json_matches_scipy_over_session_means(capsys, demo_url):
    status, out, _ = run(capsys, demo_url, "--swprofile", BASE, "--swprofile", CAND,
                         "--resultclass", "sysbench*", "--format", "json")
    assert status == 0
    rows = json.loads(out)
    assert [(r["swprofile"], r["resultclass"]) for r in rows] == [
        (BASE, "sysbenchthread-110"), (CAND, "sysbenchthread-110")]
    demo = [r for r in make_demo.rows() if r[3] == "sysbenchthread-110"]
    means = {sw: [np.mean([float(r[8]) for r in demo if r[1] == sw and r[6] == s])
                  for s in range(3)] for sw in (BASE, CAND)}
    lo, hi = sps.t.interval(0.95, 2, loc=np.mean(means[BASE]), scale=sps.sem(means[BASE]))
    assert rows[0]["ci95min"] == pytest.approx(lo) and rows[0]["ci95max"] == pytest.approx(hi)
    assert rows[0]["unit"] == "ms" and rows[0]["count"] == 15 and rows[0]["sessions"] == 3
    p = sps.ttest_ind(means[BASE], means[CAND], equal_var=False).pvalue
    assert p < 0.05 and rows[1]["significance"] == "R" and rows[1]["baseline"] == BASE
    assert rows[1]["change_pct"] == pytest.approx(
        (np.mean(means[CAND]) - np.mean(means[BASE])) / np.mean(means[BASE]) * 100)


def test_csv_format(capsys, demo_url):
    status, out, _ = run(capsys, demo_url, "--swprofile", CAND, "--swprofile", BASE,
                         "--benchmark", "fp/*", "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0])[:14] == ["benchmark", "resultclass", "unit", "swprofile", "min",
                                  "ci95min", "mean", "ci95max", "max", "cv", "count", "baseline",
                                  "change_pct", "significance"]
    assert [r["swprofile"] for r in rows] == [CAND, BASE]
    assert rows[1]["baseline"] == CAND and rows[1]["significance"] == ""


def test_relative_and_plot(capsys, demo_url, tmp_path):
    png = tmp_path / "cmp.png"
    status, out, _ = run(capsys, demo_url, "--swprofile", BASE, "--relative", "--plot", str(png))
    assert status == 0 and "% difference from the mean" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_one_session_falls_back_and_says_so(capsys, tmp_path):
    rng = np.random.default_rng(8)
    url = f"sqlite:///{tmp_path / 'one.db'}"
    make_store(url, [("lab", "a", 0, r, v) for r, v in enumerate(rng.normal(100, 1, 6))]
               + [("lab", "b", s, r, v) for s in range(3)
                  for r, v in enumerate(rng.normal(90, 1, 6))])
    status, out, _ = run(capsys, url, "--swprofile", "a", "--swprofile", "b")
    assert status == 0
    row = next(line for line in out.splitlines() if "rc (ops/s)" in line)
    change, ci, p = [c.strip() for c in row.split("|")][-3:]
    assert change.endswith("%") and change.startswith("-") and (ci, p) == ("-", "-")
    assert "(R)" not in row and "(I)" not in row
    assert "no test, no mark where a side has fewer than 2 sessions (boots): a;" in out
    with open_store(url, readonly=True) as store:
        report = compare_swprofiles(store, ["a"])
    values = [s[4] for s in [("lab", "a", 0, r, v) for r, v in
                             enumerate(np.random.default_rng(8).normal(100, 1, 6))]]
    lo, hi = sps.t.interval(0.95, 5, loc=np.mean(values), scale=sps.sem(values))
    s = report.rows[0].summary
    assert s.basis == "samples" and (s.ci95min, s.ci95max) == (pytest.approx(lo), pytest.approx(hi))
    status, out, _ = run(capsys, url, "--swprofile", "a")
    assert "*" in out and "one session (boot) only" in out


def test_several_suts_are_pooled_or_chosen_with_sut(capsys, tmp_path):
    """Several SUTs: counted together (tests/analysis/test_sut_factor.py), or one by --sut."""
    url = str(tmp_path / "two")
    make_store(url, [("lab1", "a", s, 0, 1.0 + s) for s in range(3)]
               + [("lab2", "a", s, 0, 2.0 + s) for s in range(3)])
    status, out, _ = run(capsys, url, "--swprofile", "a")
    assert status == 0 and "SUTs: lab1, lab2" in out and "--sut shows one" in out
    status, out, _ = run(capsys, url, "--swprofile", "a", "--sut", "lab2", "--format", "json")
    assert status == 0 and json.loads(out)[0]["mean"] == pytest.approx(3.0)


@pytest.mark.parametrize("argv, message", [
    (["--swprofile", "nope"], "unknown swprofile 'nope'"),
    (["--swprofile", BASE, "--swprofile", "6.2"], "unknown swprofile '6.2'"),
    (["--swprofile", BASE, "--benchmark", "lmbench/*"],
     "no benchmark matches --benchmark 'lmbench/*'"),
    (["--swprofile", BASE, "--resultclass", "zzz*"],
     "no result class matches --resultclass 'zzz*'"),
    (["--swprofile", BASE, "--sut", "other"], "unknown SUT 'other'"),
    (["--swprofile", BASE, "--swprofile", BASE], "--swprofile given twice"),
])
def test_bad_input_is_one_line_and_exit_1(capsys, demo_url, argv, message):
    status, out, err = run(capsys, demo_url, *argv)
    assert status == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_empty_store(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    status, out, err = run(capsys, url, "--swprofile", BASE)
    assert status == 1 and "holds no results" in err and out == ""


def test_unwritable_plot(capsys, demo_url, tmp_path):
    status, _, err = run(capsys, demo_url, "--swprofile", BASE, "--plot",
                         str(tmp_path / "no" / "such" / "dir" / "x.png"))
    assert status == 1 and "cannot write plot" in err


def test_swprofile_is_required(capsys, demo_url):
    status, _, err = run(capsys, demo_url)
    assert status == 1 and "--swprofile" in err and err.count("\n") == 1   # a usage error: one line


def test_same_output_on_every_backend(capsys, any_store_url, tmp_path):
    """The demo through csv, sqlite, MariaDB and PostgreSQL gives the same table and JSON."""
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    outputs = []
    for url in (reference, any_store_url):
        assert main(["result", "import", url, str(make_demo.DEMO_CSV)]) == 0
        argv = ["--swprofile", BASE, "--swprofile", CAND]
        status, table, _ = run(capsys, url, *argv)
        status_json, js, _ = run(capsys, url, *argv, "--format", "json")
        assert status == status_json == 0
        outputs.append((table.split("\n", 1)[1], json.loads(js)))   # first line names the store
    assert outputs[0][0] == outputs[1][0]
    for a, b in zip(outputs[0][1], outputs[1][1]):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == (pytest.approx(b[k], rel=1e-10) if isinstance(a[k], float) else b[k])


def test_swprofile_without_samples(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    make_store(url, [("lab", "a", s, 0, 1.0 + s) for s in range(3)])
    with open_store(url) as store:
        store.put_swprofile(SwProfile("never-run"))
    status, out, err = run(capsys, url, "--swprofile", "a", "--swprofile", "never-run")
    assert status == 1 and out == ""
    assert "no samples for swprofile 'never-run'" in err


def test_narrow_selection_reads_one_class(capsys, demo_url):
    status, out, _ = run(capsys, demo_url, "--swprofile", BASE, "--benchmark", "fp/syscall",
                         "--resultclass", "ns_per_call", "--format", "json")
    assert status == 0
    assert [(r["benchmark"], r["resultclass"]) for r in json.loads(out)] == [
        ("fp/syscall", "ns_per_call")]


def test_missing_store_is_one_line(capsys, tmp_path):
    status, out, err = run(capsys, str(tmp_path / "nowhere"), "--swprofile", BASE)
    assert status == 3 and out == "" and "no result store at" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()          # read-only: nothing was created


def test_report_from_store_aggregates_equals_report_from_samples(any_store_url):
    """compare_swprofiles reads per-session aggregates from the store; build_rows summarises
    the raw samples: the same rows on every backend, including a one-session swprofile (no
    test) and unequal sessions."""
    from fastpath.analysis.group import group_samples
    from fastpath.analysis.report import ResultClassInfo, build_rows

    rng = np.random.default_rng(21)
    samples = [("lab", "a", s, r, v) for s in range(4)
               for r, v in enumerate(rng.normal(1e4 + rng.normal(0, 5), 1, 20 + 3 * s))]
    samples += [("lab", "b", s, r, v) for s in range(3)
                for r, v in enumerate(rng.normal(1.01e4 + rng.normal(0, 5), 2, 15))]
    samples += [("lab", "c", 0, r, v) for r, v in enumerate(rng.normal(1e4, 1, 9))]
    make_store(any_store_url, samples, improvement="lower")
    with open_store(any_store_url, readonly=True) as store:
        report = compare_swprofiles(store, ["a", "b", "c"])
    groups = {sw: [g for g in group_samples(["bench/x"] * len(samples), ["rc"] * len(samples),
                                            [s[1] for s in samples], [s[0] for s in samples],
                                            [s[2] for s in samples], [s[4] for s in samples])
                   if g.swprofile == sw] for sw in "abc"}
    expected = build_rows(groups, ["a", "b", "c"], {("bench/x", "rc"): ResultClassInfo("ops/s", "lower")})
    assert [r.as_dict() for r in report.rows] == [r.as_dict() for r in expected]
    assert [r.comparison.basis for r in report.rows[1:]] == ["sessions", "none"]
