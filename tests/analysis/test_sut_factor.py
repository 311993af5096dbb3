"""The SUT as a factor (issue 12): comparisons over sessions from several SUTs of a pool remove
each SUT's level (stats.compare_by_sut, the kernel + SUT additive model) instead of counting
it as noise. Checked against OLS computed here with numpy.linalg.lstsq, on seeded samples and
on real stores (CSV directory and SQLite) through `result show`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from fastpath.analysis.stats import (SUT, additive_fit, compare, compare_by_sut, pool_summaries,
                                     summarize)
from fastpath.cli.main import main
from tests.analysis.test_show import make_store, run


def summ(values):
    """A Summary whose boots are ``values`` (one sample per session)."""
    values = list(values)
    return summarize(values, range(len(values)))


def ols(cells):
    """OLS of y = intercept + kernel + SUT dummies over the session means, independently of
    the library: ``cells[(kernel, sut)]`` are the session means (kernel 0 baseline, 1
    candidate). Returns (kernel coefficient, its standard error, residual df)."""
    suts = sorted({s for _, s in cells})
    rows, y = [], []
    for (k, s), values in cells.items():
        for v in values:
            rows.append([1.0, float(k)] + [float(s == other) for other in suts[1:]])
            y.append(v)
    x, y = np.array(rows), np.array(y)
    coef, rss, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    assert rank == x.shape[1]
    df = len(y) - x.shape[1]
    resid = y - x @ coef
    sigma2 = float(resid @ resid) / df
    cov = sigma2 * np.linalg.inv(x.T @ x)
    return float(coef[1]), float(np.sqrt(cov[1, 1])), df


def test_the_stratified_estimate_is_the_ols_kernel_effect():
    """Unbalanced cells, a SUT that ran the baseline only: the library's closed form (per-SUT
    differences, inverse-variance weights) equals lstsq's kernel coefficient, its t interval
    and p."""
    rng = np.random.default_rng(12)
    layout = {("a", 0): (100, 5), ("a", 1): (97, 3), ("b", 0): (140, 2), ("b", 1): (137.5, 7),
              ("c", 0): (80, 4)}
    cells = {(k, s): rng.normal(level, 1.0, n) for (s, k), (level, n) in layout.items()}
    base = {s: summ(v) for (k, s), v in cells.items() if k == 0}
    cand = {s: summ(v) for (k, s), v in cells.items() if k == 1}
    suts = sorted(base)
    fit = additive_fit([base.get(s) for s in suts], [cand.get(s) for s in suts])
    coef, se, df = ols(cells)
    assert fit.difference == pytest.approx(coef, rel=1e-10)
    assert fit.df == df == 21 - 4
    p, lo, hi = fit.test()
    t = sps.t.ppf(0.975, df)
    assert (lo, hi) == (pytest.approx(coef - t * se, rel=1e-9), pytest.approx(coef + t * se, rel=1e-9))
    assert p == pytest.approx(2 * sps.t.sf(abs(coef / se), df), rel=1e-8)
    c = compare_by_sut(base, cand, "higher")
    w = {s: len(cells[(0, s)]) * len(cells[(1, s)]) / (len(cells[(0, s)]) + len(cells[(1, s)]))
         for s in ("a", "b")}
    ref = sum(w[s] * cells[(0, s)].mean() for s in w) / sum(w.values())
    assert c.basis == SUT and c.suts == ("a", "b") and not c.confounded
    assert c.change_pct == pytest.approx(coef / ref * 100, rel=1e-9)
    assert (c.ci95min, c.ci95max) == (pytest.approx((coef - t * se) / ref * 100, rel=1e-9),
                                      pytest.approx((coef + t * se) / ref * 100, rel=1e-9))
    assert c.p_value == pytest.approx(p) and c.significance == "R"


def test_the_interaction_test_is_the_f_test_of_the_full_model():
    """sut_interaction_p: the extra-sum-of-squares F test of kernel x SUT, computed here from
    the additive model's and the cell-means model's residuals."""
    rng = np.random.default_rng(5)
    cells = {(0, "a"): rng.normal(100, 1, 4), (1, "a"): rng.normal(97, 1, 5),
             (0, "b"): rng.normal(150, 1, 6), (1, "b"): rng.normal(153, 1, 3)}
    base = {s: summ(v) for (k, s), v in cells.items() if k == 0}
    cand = {s: summ(v) for (k, s), v in cells.items() if k == 1}
    c = compare_by_sut(base, cand, "higher")
    coef, se, df = ols(cells)
    within = sum(float(((v - v.mean()) ** 2).sum()) for v in cells.values())
    y = np.concatenate(list(cells.values()))
    x = np.array([[1.0, k, float(s == "b")] for (k, s), v in cells.items() for _ in v])
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    f = (float(resid @ resid) - within) / (within / (len(y) - 4))
    assert c.sut_interaction_p == pytest.approx(sps.f.sf(f, 1, len(y) - 4), rel=1e-8)
    assert c.sut_interaction_p < 0.05          # -3 on a, +3 on b: the change differs


def test_adjusted_intervals_cover_the_true_change_95_percent_of_the_time():
    """Two SUTs 50 apart, noise sd 1, the candidate 2% lower on both: over seeded repeats the
    adjusted 95% interval covers -2% about 95% of the time and is far narrower than pooled."""
    rng = np.random.default_rng(2026)
    covered, ratio = 0, []
    for _ in range(300):
        base = {s: summ(rng.normal(level, 1.0, n)) for s, level, n in (("a", 100, 4), ("b", 150, 5))}
        cand = {s: summ(rng.normal(0.98 * level, 1.0, n)) for s, level, n in (("a", 100, 5), ("b", 150, 3))}
        c = compare_by_sut(base, cand, "higher")
        covered += c.ci95min <= -2.0 <= c.ci95max
        p = compare(pool_summaries(base.values()), pool_summaries(cand.values()), "higher")
        ratio.append((c.ci95max - c.ci95min) / (p.ci95max - p.ci95min))
    assert 0.92 <= covered / 300 <= 0.98
    assert max(ratio) < 0.1


def test_one_sut_is_plain_welch_and_no_shared_sut_is_confounded():
    rng = np.random.default_rng(3)
    a, b = rng.normal(100, 1, 5), rng.normal(97, 1, 4)
    assert compare_by_sut({"x": summ(a)}, {"x": summ(b)}, "higher") == compare(summ(a), summ(b), "higher")
    c = compare_by_sut({"x": summ(a)}, {"y": summ(b + 50)}, "higher")
    welch = sps.ttest_ind(b + 50, a, equal_var=False)
    assert c.confounded and c.basis == "sessions" and not c.suts
    assert c.p_value == pytest.approx(welch.pvalue) and c.significance == "I"   # the SUTs' 50


def test_no_residual_df_means_no_test(capsys, tmp_path):
    """Base on lab1 and lab2, cand on lab2 and lab3, one session each: 4 boots, 3 SUTs, no
    degree of freedom left for the noise: the change (on lab2), no test, and a note."""
    url = str(tmp_path / "s")
    make_store(url, [("lab1", "base", 0, 0, 100.0), ("lab2", "base", 0, 0, 150.0),
                     ("lab2", "cand", 0, 0, 147.0), ("lab3", "cand", 0, 0, 80.0)])
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand", "--format", "json")
    row = json.loads(out)[1]
    assert status == 0 and row["change_pct"] == pytest.approx(-2.0) and row["test_basis"] == "none"
    assert row["p_value"] is None and row["significance"] is None
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand")
    assert "no test, no mark for cand: too few sessions" in out


def test_pool_summaries_is_summarize_over_every_boot():
    rng = np.random.default_rng(4)
    parts = [(rng.normal(100, 1, 12), np.repeat(np.arange(4), 3)),
             (rng.normal(150, 1, 10), np.repeat(np.arange(5), 2))]
    pooled = pool_summaries(summarize(v, s) for v, s in parts)
    flat = summarize(np.concatenate([v for v, _ in parts]),
                     np.concatenate([parts[0][1], parts[1][1] + 100]))
    for field in ("count", "sessions", "boots", "min", "max", "mean", "ci95min", "ci95max", "cv",
                  "sample_mean", "sample_sd", "session_sd", "basis"):
        assert getattr(pooled, field) == pytest.approx(getattr(flat, field), rel=1e-12), field


def two_sut_samples(rng, change=0.98, change_b=None, suts=(("lab1", 100.0), ("lab2", 150.0))):
    """(sut, swprofile, session, repeat, value): 3 repeats per session, session sd 1,
    unbalanced sessions; the candidate at ``change`` x each SUT's level (``change_b`` on the
    second SUT)."""
    out = []
    for j, (sut, level) in enumerate(suts):
        for sw, factor, n in (("base", 1.0, (5, 3)[j]), ("cand", change if j == 0 or change_b is None
                                                         else change_b, (3, 6)[j])):
            for s in range(n):
                m = factor * level + rng.normal(0, 1)
                out += [(sut, sw, s, r, m + rng.normal(0, 0.3)) for r in range(3)]
    return out


@pytest.fixture(params=["csv", "sqlite"])
def url(request, tmp_path):
    return str(tmp_path / "pool") if request.param == "csv" else f"sqlite:///{tmp_path / 'pool.db'}"


def test_result_show_adjusts_for_the_suts_and_says_so(capsys, url):
    samples = two_sut_samples(np.random.default_rng(7))
    make_store(url, samples)
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand", "--format", "json")
    assert status == 0
    row = json.loads(out)[1]
    assert row["test_basis"] == "sut" and row["significance"] == "R"
    assert row["change_ci95min"] < -2.0 < row["change_ci95max"]
    # what a pooled comparison over the same sessions gives (the SUTs' 50 counted as noise)
    means = {}
    for sut, sw, s, _, v in samples:
        means.setdefault((sw, sut, s), []).append(v)
    per = {sw: [np.mean(v) for (w, _, _), v in means.items() if w == sw] for sw in ("base", "cand")}
    d = np.mean(per["cand"]) - np.mean(per["base"])
    se = np.hypot(sps.sem(per["base"]), sps.sem(per["cand"]))
    pooled_width = 2 * 1.9 * se / np.mean(per["base"]) * 100     # t(0.975) > 1.9 at any df
    assert row["change_ci95max"] - row["change_ci95min"] < pooled_width / 10
    assert abs(d / np.mean(per["base"]) * 100 - row["change_pct"]) > 5  # pooled: far off -2%
    # the adjusted change, from lstsq over the session means
    cells = {(int(sw == "cand"), sut): np.array([np.mean(v) for (w, su, _), v in means.items()
                                                 if (w, su) == (sw, sut)])
             for sw in ("base", "cand") for sut in ("lab1", "lab2")}
    coef, _, _ = ols(cells)
    w = {s: len(cells[(0, s)]) * len(cells[(1, s)]) / (len(cells[(0, s)]) + len(cells[(1, s)]))
         for s in ("lab1", "lab2")}
    ref = sum(w[s] * cells[(0, s)].mean() for s in w) / sum(w.values())
    assert row["change_pct"] == pytest.approx(coef / ref * 100, rel=1e-9)
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand")
    assert status == 0 and out.startswith("SUTs: lab1, lab2")
    assert "adjusted for the SUT: %change, its interval and p from the kernel + SUT additive model" in out
    assert "measured on the SUTs that ran both: lab1, lab2." in out
    assert "confounded" not in out and "differs between the SUTs" not in out
    # --sut still shows one SUT, with the single-SUT (Welch) statistics
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand", "--sut", "lab1",
                         "--format", "json")
    assert status == 0 and json.loads(out)[1]["test_basis"] == "sessions"


def test_result_show_warns_when_sut_and_kernel_are_confounded(capsys, url):
    samples = [s for s in two_sut_samples(np.random.default_rng(8))
               if (s[0], s[1]) in {("lab1", "base"), ("lab2", "cand")}]
    make_store(url, samples)
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand")
    assert status == 0
    assert ("warning: no SUT ran both base and cand: SUT and kernel are confounded; their %change, "
            "interval and p pool the SUTs as one machine") in out
    assert "adjusted for the SUT" not in out and "(Welch)" in out
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand", "--format", "json")
    assert json.loads(out)[1]["test_basis"] == "sessions"


def test_result_show_says_when_the_change_differs_between_suts(capsys, url):
    make_store(url, two_sut_samples(np.random.default_rng(9), change=0.98, change_b=1.05))
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand")
    assert status == 0 and "the change differs between the SUTs (SUT x kernel F test" in out
    assert "bench/x rc (cand, p=<0.001)" in out


def test_one_swprofile_on_several_suts_is_pooled_with_a_note(capsys, tmp_path):
    url = str(tmp_path / "two")
    make_store(url, [("lab1", "a", s, 0, 1.0 + s) for s in range(3)]
               + [("lab2", "a", s, 0, 2.0 + s) for s in range(3)])
    status, out, _ = run(capsys, url, "--swprofile", "a", "--format", "json")
    row = json.loads(out)[0]
    assert status == 0 and row["mean"] == pytest.approx(2.5) and row["sessions"] == 6
    status, out, _ = run(capsys, url, "--swprofile", "a")
    assert "sessions from 2 SUTs (lab1, lab2) pooled" in out and "--sut shows one" in out
    status, out, _ = run(capsys, url, "--swprofile", "a", "--sut", "lab2", "--format", "json")
    assert status == 0 and json.loads(out)[0]["mean"] == pytest.approx(3.0)


def test_left_out_sessions_name_their_sut(capsys, tmp_path):
    from fastpath.store import open_store
    from fastpath.store.model import Session

    url = f"sqlite:///{tmp_path / 'x.db'}"
    make_store(url, two_sut_samples(np.random.default_rng(10)))
    with open_store(url) as store:
        store.put_session(Session("lab2", "cand", 1, status="failed"))
    status, out, _ = run(capsys, url, "--swprofile", "base", "--swprofile", "cand")
    assert status == 0 and "cand: left out of the statistics: incomplete session 1 on lab2 (failed), 3 samples." in out
