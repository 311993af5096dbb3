"""`result show` columns checked against scipy, and which sessions count: single-session
kernels, sessions sharing a boot, incomplete sessions, natural order, --changed-only, --plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from fastpath.analysis.report import KEYS, compare_swprofiles
from fastpath.data import make_demo
from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Session, Sut, SwProfile
from tests.analysis.test_show import BASE, CAND, demo_url, make_store, run  # noqa: F401

CLASSES = 24


def per_session(rows, sw, rc):
    demo = [r for r in rows if r[1] == sw and r[3] == rc]
    return [np.mean([float(r[8]) for r in demo if r[6] == s]) for s in sorted({r[6] for r in demo})]


def test_new_json_columns_match_scipy(capsys, demo_url):
    status, out, _ = run(capsys, demo_url, "--swprofile", BASE, "--swprofile", CAND,
                         "--format", "json")
    assert status == 0
    rows = json.loads(out)
    demo = make_demo.rows()
    for row in rows:
        means = per_session(demo, row["swprofile"], row["resultclass"])
        assert row["stddev_pct"] == pytest.approx(np.std(means, ddof=1) / np.mean(means) * 100)
        assert row["sessions"] == row["boots"] == 3 and row["incomplete_sessions"] == 0
        if row["swprofile"] == BASE:
            assert row["p_value"] is None and row["change_ci95min"] is None
            continue
        base = per_session(demo, BASE, row["resultclass"])
        res = sps.ttest_ind(means, base, equal_var=False)
        lo, hi = res.confidence_interval(0.95)
        assert row["p_value"] == pytest.approx(res.pvalue, rel=1e-9)
        assert row["change_ci95min"] == pytest.approx(lo / np.mean(base) * 100, rel=1e-9)
        assert row["change_ci95max"] == pytest.approx(hi / np.mean(base) * 100, rel=1e-9)
        assert row["test_basis"] == "sessions"


@pytest.fixture
def store24(tmp_path):
    """24 result classes, 1% boot noise, 0.2% repeat noise; bench5 is 5% lower on 'cand' and
    'one'. 'base' and 'cand' have 3 sessions, 'one' a single session of 5 repeats."""
    rng = np.random.default_rng(4)
    url = f"sqlite:///{tmp_path / 's24.db'}"
    samples = []
    for k in range(CLASSES):
        for sw, sessions in (("base", 3), ("cand", 3), ("one", 1)):
            level = 1000 * (0.95 if k == 5 and sw != "base" else 1.0)
            for s in range(sessions):
                offset = rng.normal(0, 0.01)
                samples += [(sw, f"bench{k}", s, r, level * (1 + offset + rng.normal(0, 0.002)))
                            for r in range(5)]
    with open_store(url) as store:
        store.put_sut(Sut("lab"))
        for sw in ("base", "cand", "one"):
            store.put_swprofile(SwProfile(sw))
        store.put_benchmark(Benchmark("suite/b", "suite", "b"))
        for k in range(CLASSES):
            store.put_resultclass(ResultClass("suite/b", f"bench{k}", "ops/s", "higher"))
        store.append_samples(Sample("lab", sw, "suite/b", rc, s, r, v)
                             for sw, rc, s, r, v in samples)
    return url, samples


def test_a_single_session_kernel_is_never_marked(capsys, store24):
    url, samples = store24
    flat = [sps.ttest_ind([v for sw, c, *_, v in samples if sw == "base" and c == rc],
                          [v for sw, c, *_, v in samples if sw == "one" and c == rc],
                          equal_var=False).pvalue for rc in (f"bench{k}" for k in range(CLASSES))]
    assert sum(p < 0.05 for p in flat) >= 12        # what a test over pooled samples would mark
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "one",
                         "--swprofile", "cand", "--format", "json")
    assert status == 0
    rows = json.loads(out)
    one = [r for r in rows if r["swprofile"] == "one"]
    assert len(one) == CLASSES
    assert all(r["significance"] is None and r["p_value"] is None and r["test_basis"] == "none"
               and r["change_ci95min"] is None for r in one)
    marked = [r["resultclass"] for r in rows if r["swprofile"] == "cand" and r["significance"]]
    assert "bench5" in marked
    status, table, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "one")
    body = [line for line in table.splitlines() if line.startswith("suite/b")]
    assert len(body) == CLASSES and not any("(R)" in x or "(I)" in x for x in body)
    assert all([c.strip() for c in x.split("|")][-2:] == ["-", "-"] for x in body)
    assert ("no test, no mark where a side has fewer than 2 sessions (boots): one; repeats "
            "within one boot are not independent.") in table


def test_rows_in_natural_order(capsys, store24):
    url, _ = store24
    status, out, _ = run(capsys, url, "--swprofile", "base", "--format", "json")
    assert [r["resultclass"] for r in json.loads(out)] == [f"bench{k}" for k in range(CLASSES)]
    status, table, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand")
    names = [line.split("|")[1].split()[0] for line in table.splitlines()
             if line.startswith("suite/b")]
    assert names == [f"bench{k}" for k in range(CLASSES)]


@pytest.mark.parametrize("swprofiles", [["base"], ["base", "cand"], ["cand", "one", "base"]])
def test_csv_and_json_keys_do_not_depend_on_the_number_of_swprofiles(capsys, store24, swprofiles):
    url, _ = store24
    argv = [x for sw in swprofiles for x in ("--swprofile", sw)]
    _, out, _ = run(capsys, url, *argv, "--format", "json")
    assert {tuple(r) for r in json.loads(out)} == {KEYS}
    _, out, _ = run(capsys, url, *argv, "--format", "csv")
    assert out.splitlines()[0] == ",".join(KEYS)


def test_changed_only(capsys, store24, tmp_path):
    url, _ = store24
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand",
                         "--changed-only", "--format", "json")
    rows = json.loads(out)
    assert status == 0 and rows and {r["resultclass"] for r in rows} == {
        r["resultclass"] for r in rows if r["significance"]}
    assert len(rows) == 2 * len({r["resultclass"] for r in rows})      # baseline row kept
    status, table, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand",
                           "--changed-only")
    shown = len(rows) // 2
    assert f"--changed-only: {shown} of {CLASSES} result classes shown" in table


@pytest.mark.parametrize("argv, message", [
    (["--swprofile", "base", "--swprofile", "cand", "--relative"],
     "--relative applies to one --swprofile"),
    (["--swprofile", "base", "--changed-only"], "--changed-only needs two or more --swprofile"),
])
def test_flags_that_need_a_number_of_swprofiles(capsys, store24, argv, message):
    url, _ = store24
    status, out, err = run(capsys, url, *argv)
    assert status == 1 and out == "" and message in err and len(err.splitlines()) == 1


@pytest.mark.slow     # the dev tier plots in test_rows.py and test_show.py
def test_plot_says_where_and_its_title_clears_the_first_row(capsys, store24, tmp_path):
    url, _ = store24
    png = tmp_path / "p.png"
    status, out, err = run(capsys, url, "--swprofile", "base", "--swprofile", "cand",
                           "--format", "json", "--plot", str(png))
    assert status == 0 and json.loads(out)                 # stdout stays JSON
    assert err == f"plot: {CLASSES} result classes written to {png}\n"
    assert png.read_bytes()[:4] == b"\x89PNG"
    import matplotlib.pyplot as plt

    from fastpath.analysis.plot import figure

    with open_store(url, readonly=True) as store:
        fig = figure(compare_swprofiles(store, ["base", "cand"]))
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        title = fig._suptitle.get_window_extent(renderer)
        tops = [ax.get_tightbbox(renderer) for ax in fig.axes[:3]]
        assert all(title.y0 > box.y1 for box in tops), (title, tops)
    finally:
        plt.close(fig)


def make_sessions(url, rows, samples):
    """A store with session rows (swprofile, session, status, boot_id) and samples
    (swprofile, session, repeat, value) of bench/x rc."""
    make_store(url, [("lab", sw, s, r, v) for sw, s, r, v in samples])
    with open_store(url) as store:
        for sw, s, status, boot in rows:
            store.put_session(Session("lab", sw, s, status, boot))


def test_incomplete_sessions_are_left_out_and_said(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'inc.db'}"
    rng = np.random.default_rng(40)
    good = [("a", s, r, v) for s in range(3) for r, v in enumerate(rng.normal(100, 0.5, 3))]
    broken = [("a", 3, r, 500.0) for r in range(3)]          # failed session, wild values
    running = [("a", 4, 0, 900.0)]
    make_sessions(url, [("a", s, "complete", f"boot{s}") for s in range(3)]
                  + [("a", 3, "failed", "boot3"), ("a", 4, "running", "boot4")],
                  good + broken + running)
    status, out, _ = run(capsys, url, "--swprofile", "a", "--format", "json")
    row = json.loads(out)[0]
    assert (row["count"], row["sessions"], row["max"]) == (9, 3, max(v for *_, v in good))
    assert row["mean"] == pytest.approx(np.mean([v for *_, v in good]))
    assert (row["incomplete_sessions"], row["incomplete_samples"]) == (2, 4)
    status, table, _ = run(capsys, url, "--swprofile", "a")
    assert ("a: left out of the statistics: incomplete sessions 3 (failed), 4 (running), "
            "4 samples.") in table
    line = next(x for x in table.splitlines() if "rc (ops/s)" in x)
    assert [c.strip() for c in line.split("|")][-2:] == ["9", "3"]


def test_only_incomplete_sessions_is_one_line(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'inc.db'}"
    make_sessions(url, [("a", 0, "failed", "b0")], [("a", 0, r, 1.0 + r) for r in range(3)])
    status, out, err = run(capsys, url, "--swprofile", "a")
    assert status == 1 and out == ""
    assert "from complete sessions (3 samples of incomplete sessions left out)" in err


def test_sessions_sharing_a_boot_are_one_boot(capsys, tmp_path):
    """A plan without a kernel: four sessions, one boot id. Even a large change is not marked
    and the note says why; 'b' (three boots) against 'c' (three boots) still is."""
    url = f"sqlite:///{tmp_path / 'boot.db'}"
    rng = np.random.default_rng(41)
    samples = [("a", s, r, v) for s in range(4) for r, v in enumerate(rng.normal(100, 0.3, 4))]
    samples += [(sw, s, r, v) for sw, level in (("b", 110), ("c", 120)) for s in range(3)
                for r, v in enumerate(rng.normal(level, 0.3, 4))]
    make_sessions(url, [("a", s, "complete", "same-boot") for s in range(4)]
                  + [(sw, s, "complete", f"{sw}{s}") for sw in "bc" for s in range(3)], samples)
    status, out, _ = run(capsys, url, "--swprofile", "a", "--swprofile", "b", "--swprofile", "c",
                         "--format", "json")
    rows = {r["swprofile"]: r for r in json.loads(out)}
    assert (rows["a"]["sessions"], rows["a"]["boots"], rows["a"]["ci_basis"]) == (4, 1, "samples")
    assert rows["a"]["stddev_pct"] is None
    assert rows["b"]["significance"] is None and rows["b"]["p_value"] is None
    status, table, _ = run(capsys, url, "--swprofile", "a", "--swprofile", "b")
    assert ("a: sessions 0, 1, 2, 3 ran in one boot (the same boot id; a plan without a kernel "
            "does not reboot): not independent, counted as one boot.") in table
    line = next(x for x in table.splitlines() if "rc (ops/s)" in x)
    assert "4 in 1 boot" in line and "(I)" not in line and "(R)" not in line
    status, out, _ = run(capsys, url, "--swprofile", "b", "--swprofile", "c", "--format", "json")
    assert json.loads(out)[1]["significance"] == "I"
