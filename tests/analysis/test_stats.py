"""Statistics checked against values computed independently with scipy, on seeded samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from fastpath.analysis.stats import (ALPHA, HIGHER, LOWER, SAMPLES, SESSIONS, change_pct, compare,
                                     mean_ci, session_means, significance, summarize, welch_p)


def booted(rng, mean, sessions, repeats, boot_sd, repeat_sd):
    """Samples with a per-boot offset: sessions differ more than repeats within one."""
    values, ids = [], []
    for s in range(sessions):
        offset = rng.normal(0, boot_sd)
        for _ in range(repeats):
            values.append(mean + offset + rng.normal(0, repeat_sd))
            ids.append(s)
    return np.array(values), np.array(ids)


def by_session(values, ids):
    return [float(np.mean([v for v, i in zip(values, ids) if i == s])) for s in sorted(set(ids))]


def test_ci_is_over_session_means_and_differs_from_sample_ci():
    rng = np.random.default_rng(7)
    values, ids = booted(rng, 100.0, sessions=4, repeats=10, boot_sd=3.0, repeat_sd=0.5)
    s = summarize(values, ids)
    means = by_session(values, ids)
    lo, hi = sps.t.interval(0.95, len(means) - 1, loc=np.mean(means), scale=sps.sem(means))
    assert s.basis == SESSIONS and s.sessions == 4 and s.count == 40
    assert s.mean == pytest.approx(np.mean(means))
    assert (s.ci95min, s.ci95max) == (pytest.approx(lo), pytest.approx(hi))
    # the flat interval over all 40 samples is much narrower: it ignores the boot-to-boot noise
    flat_lo, flat_hi = sps.t.interval(0.95, 39, loc=np.mean(values), scale=sps.sem(values))
    assert (hi - lo) > 3 * (flat_hi - flat_lo)
    assert s.min == values.min() and s.max == values.max()
    assert s.cv == pytest.approx(np.std(values, ddof=1) / np.mean(values))
    assert s.session_means == pytest.approx(means)


def test_one_session_falls_back_to_sample_interval():
    rng = np.random.default_rng(11)
    values = rng.normal(50.0, 2.0, 8)
    s = summarize(values, [3] * 8)
    lo, hi = sps.t.interval(0.95, 7, loc=np.mean(values), scale=sps.sem(values))
    assert s.basis == SAMPLES and s.sessions == 1
    assert (s.ci95min, s.ci95max) == (pytest.approx(lo), pytest.approx(hi))


def test_one_sample_has_no_interval_and_no_cv():
    s = summarize([4.2], [0])
    assert (s.ci95min, s.ci95max, s.cv, s.basis) == (None, None, None, "none")
    assert s.mean == s.min == s.max == 4.2 and s.count == 1


def test_unbalanced_sessions_weigh_each_boot_equally():
    values = [10.0, 10.0, 10.0, 10.0, 20.0]
    s = summarize(values, [0, 0, 0, 0, 1])
    assert s.mean == pytest.approx(15.0)
    assert s.sample_mean == pytest.approx(12.0)


def test_session_ids_need_not_be_contiguous():
    assert session_means([1, 3, 5, 7], [9, 9, 2, 2]).tolist() == [6.0, 2.0]


def test_mean_ci_matches_scipy():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 0.3, 12)
    lo, hi = sps.t.interval(0.95, 11, loc=x.mean(), scale=sps.sem(x))
    assert mean_ci(x) == (pytest.approx(lo), pytest.approx(hi))
    assert mean_ci([1.0]) is None
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_empty_samples_are_refused():
    with pytest.raises(ValueError):
        summarize([], [])


def test_welch_over_session_means_matches_scipy():
    rng = np.random.default_rng(21)
    a, ai = booted(rng, 100.0, 5, 4, 2.0, 0.3)
    b, bi = booted(rng, 104.0, 3, 6, 2.0, 0.3)
    c = compare(summarize(a, ai), summarize(b, bi), HIGHER)
    expected = sps.ttest_ind(by_session(a, ai), by_session(b, bi), equal_var=False).pvalue
    assert c.basis == SESSIONS
    assert c.p_value == pytest.approx(expected)
    base, cand = np.mean(by_session(a, ai)), np.mean(by_session(b, bi))
    assert c.change_pct == pytest.approx((cand - base) / base * 100)


def test_a_side_with_one_session_gets_no_test_and_no_mark():
    """Even where a flat test over the samples would call it significant."""
    rng = np.random.default_rng(5)
    a, ai = booted(rng, 10.0, 1, 6, 0.5, 0.2)
    b, bi = booted(rng, 12.0, 3, 6, 0.5, 0.2)
    assert sps.ttest_ind(a, b, equal_var=False).pvalue < 0.001
    c = compare(summarize(a, ai), summarize(b, bi), LOWER)
    assert (c.basis, c.p_value, c.significance, c.ci95min, c.ci95max) == (
        "none", None, None, None, None)
    assert c.change_pct == pytest.approx((np.mean(b) - np.mean(a)) / np.mean(a) * 100)


def test_session_test_is_more_cautious_than_a_flat_one():
    """Correlated repeats make a flat test see a difference the boots do not support."""
    rng = np.random.default_rng(1)
    a, ai = booted(rng, 100.0, 3, 20, 2.0, 0.2)
    b, bi = booted(rng, 101.0, 3, 20, 2.0, 0.2)
    c = compare(summarize(a, ai), summarize(b, bi), HIGHER)
    flat = sps.ttest_ind(a, b, equal_var=False).pvalue
    assert flat < ALPHA < c.p_value
    assert c.significance is None


def test_no_test_with_a_single_sample():
    c = compare(summarize([1.0], [0]), summarize([2.0, 2.1], [0, 1]), HIGHER)
    assert (c.p_value, c.significance, c.basis) == (None, None, "none")
    assert c.change_pct == pytest.approx(105.0)


@pytest.mark.parametrize("improvement, factor, expected", [
    (HIGHER, 0.9, "R"), (HIGHER, 1.1, "I"), (LOWER, 1.1, "R"), (LOWER, 0.9, "I"),
    (HIGHER, 1.0, None), (LOWER, 1.0, None)])
def test_direction(improvement, factor, expected):
    rng = np.random.default_rng(2)
    a, ai = booted(rng, 50.0, 4, 5, 0.2, 0.1)
    b, bi = booted(rng, 50.0 * factor, 4, 5, 0.2, 0.1)
    assert compare(summarize(a, ai), summarize(b, bi), improvement).significance == expected


def test_an_improvement_is_never_called_a_regression():
    rng = np.random.default_rng(99)
    marks = {"R": 0, "I": 0}
    for _ in range(300):
        improvement = HIGHER if rng.random() < 0.5 else LOWER
        a, ai = booted(rng, 20.0, 3, 4, 0.5, 0.2)
        b, bi = booted(rng, 20.0 * rng.uniform(0.9, 1.1), 3, 4, 0.5, 0.2)
        c = compare(summarize(a, ai), summarize(b, bi), improvement)
        if c.significance is None:
            continue
        marks[c.significance] += 1
        better = c.change_pct > 0 if improvement == HIGHER else c.change_pct < 0
        assert c.significance == ("I" if better else "R")
    assert marks["R"] > 20 and marks["I"] > 20      # both outcomes were exercised


def test_significance_needs_p_below_alpha_and_a_direction():
    assert significance(5.0, 0.049, HIGHER) == "I"
    assert significance(5.0, 0.05, HIGHER) is None
    assert significance(None, 0.0, HIGHER) is None
    with pytest.raises(ValueError):
        significance(5.0, 0.01, "sideways")


def test_constant_samples():
    assert welch_p(1.0, 0.0, 3, 1.0, 0.0, 3) == 1.0
    assert welch_p(1.0, 0.0, 3, 2.0, 0.0, 3) == 0.0
    c = compare(summarize([5.0] * 6, [0, 0, 1, 1, 2, 2]), summarize([6.0] * 6, [0, 0, 1, 1, 2, 2]),
                LOWER)
    assert c.significance == "R" and c.change_pct == pytest.approx(20.0)


def test_change_pct():
    assert change_pct(200.0, 210.0) == pytest.approx(5.0)
    assert change_pct(-200.0, -210.0) == pytest.approx(-5.0)
    assert change_pct(0.0, 1.0) is None
    assert math.isclose(change_pct(4.0, 3.0), -25.0)


@pytest.mark.parametrize("a, b", [((10.0, 1.0, 3), (12.0, 0.0, 5)), ((5.0, 0.3, 2), (5.1, 2.0, 9)),
                                  ((-3.0, 1.5, 20), (-2.0, 1.5, 20))])
def test_welch_p_matches_scipy_from_stats(a, b):
    expected = sps.ttest_ind_from_stats(*a, *b, equal_var=False).pvalue
    assert welch_p(*a, *b) == pytest.approx(expected, rel=1e-9)


def test_compare_samples_is_compare_of_summaries():
    from fastpath.analysis import compare_samples

    rng = np.random.default_rng(12)
    a, ai = booted(rng, 10.0, 3, 5, 0.1, 0.05)
    b, bi = booted(rng, 11.0, 3, 5, 0.1, 0.05)
    c = compare_samples(a, ai, b, bi, LOWER)
    assert c == compare(summarize(a, ai), summarize(b, bi), LOWER)
    assert c.significance == "R" and c.basis == SESSIONS


def test_summary_from_session_aggregates_equals_summary_from_samples():
    """What a store could compute in SQL (count, sum, sum of squares, min, max per session)."""
    from fastpath.analysis.stats import summarize_sessions

    rng = np.random.default_rng(17)
    values, ids = booted(rng, 1000.0, 4, 7, 5.0, 1.0)
    values, ids = values[:-3], ids[:-3]                      # unbalanced: 7, 7, 7, 4
    per = [values[ids == s] for s in range(4)]
    n = [p.size for p in per]
    sums = [p.sum() for p in per]
    m2 = [(p * p).sum() - p.sum() ** 2 / p.size for p in per]
    from_aggregates = summarize_sessions(n, np.divide(sums, n), m2, [p.min() for p in per],
                                         [p.max() for p in per])
    direct = summarize(values, ids)
    assert from_aggregates.count == direct.count == 25
    for field in ("mean", "ci95min", "ci95max", "cv", "min", "max", "sample_mean", "sample_sd"):
        assert getattr(from_aggregates, field) == pytest.approx(getattr(direct, field), rel=1e-9)
    assert direct.sample_sd == pytest.approx(np.std(values, ddof=1), rel=1e-12)


@pytest.mark.parametrize("seed, improvement", [(31, HIGHER), (32, LOWER), (33, HIGHER)])
def test_change_interval_and_p_match_scipy_welch(seed, improvement):
    """change_pct's 95% interval is scipy's Welch interval of the difference / |baseline mean|,
    and the p-value scipy's; the interval excludes 0 exactly when p < 0.05."""
    rng = np.random.default_rng(seed)
    a, ai = booted(rng, 200.0, 4, 5, 2.0, 0.5)
    b, bi = booted(rng, 200.0 * rng.uniform(0.97, 1.03), 3, 7, 1.0, 0.5)
    c = compare(summarize(a, ai), summarize(b, bi), improvement)
    ma, mb = by_session(a, ai), by_session(b, bi)
    res = sps.ttest_ind(mb, ma, equal_var=False)
    lo, hi = res.confidence_interval(0.95)
    base = np.mean(ma)
    assert c.p_value == pytest.approx(res.pvalue, rel=1e-9)
    assert (c.ci95min, c.ci95max) == (pytest.approx(lo / base * 100, rel=1e-9),
                                      pytest.approx(hi / base * 100, rel=1e-9))
    assert c.ci95min < c.change_pct < c.ci95max
    assert (c.significance is not None) == (c.ci95min > 0 or c.ci95max < 0)


def test_stddev_pct_is_the_spread_of_the_session_means():
    rng = np.random.default_rng(34)
    a, ai = booted(rng, 50.0, 5, 4, 1.0, 0.2)
    means = by_session(a, ai)
    assert summarize(a, ai).stddev_pct == pytest.approx(np.std(means, ddof=1) / np.mean(means) * 100)
    assert summarize([1.0, 2.0, 3.0], [0, 0, 0]).stddev_pct is None      # one session


def test_sessions_merged_into_boots_are_summarised_as_one_session_each():
    """merge_units: sessions 0-2 in one boot, 3 and 4 in their own; the summary is the one of
    the samples relabelled by boot, and still counts 5 sessions."""
    from fastpath.analysis.stats import merge_units, session_aggregates, summarize_sessions

    rng = np.random.default_rng(35)
    values, ids = booted(rng, 10.0, 5, 4, 0.5, 0.1)
    boot = {0: "x", 1: "x", 2: "x", 3: "y", 4: "z"}
    n, m, m2, lo, hi = session_aggregates(values, ids)
    merged = summarize_sessions(*merge_units([boot[i] for i in range(5)], n, m, m2, lo, hi),
                                sessions=5)
    direct = summarize(values, [{"x": 0, "y": 1, "z": 2}[boot[i]] for i in ids])
    assert (merged.sessions, merged.boots, direct.boots) == (5, 3, 3)
    for field in ("mean", "ci95min", "ci95max", "cv", "min", "max", "sample_sd", "session_sd"):
        assert getattr(merged, field) == pytest.approx(getattr(direct, field), rel=1e-12)
    assert merged.session_means == pytest.approx(direct.session_means, rel=1e-12)
    one_boot = summarize_sessions(*merge_units(["b"] * 5, n, m, m2, lo, hi), sessions=5)
    assert (one_boot.boots, one_boot.basis) == (1, SAMPLES)
    assert compare(one_boot, direct, HIGHER).basis == "none"
