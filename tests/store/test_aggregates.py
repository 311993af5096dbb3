"""Store.session_aggregates on every backend, checked against numpy on the samples written."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from fastpath.store import SessionAggregates, open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile
from tests.store import dataset

FIELDS = ("count", "mean", "m2", "min", "max")


def expected(samples) -> dict[tuple, dict[int, tuple]]:
    """{(benchmark, resultclass, swprofile, sut): {session: (count, mean, m2, min, max)}},
    computed here: plain numpy per session, M2 two-pass."""
    per: dict[tuple, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        per[(s.benchmark, s.resultclass, s.swprofile, s.sut)][s.session].append(s.value)
    out = {}
    for key, sessions in per.items():
        out[key] = {}
        for session, values in sessions.items():
            v = np.array(values)
            with np.errstate(over="ignore"):
                out[key][session] = (v.size, v.mean(), ((v - v.mean()) ** 2).sum(), v.min(), v.max())
    return out


def as_dict(aggs: SessionAggregates) -> dict[tuple, dict[int, tuple]]:
    out = {}
    for key, idx in aggs.groups().items():
        assert list(aggs.session[idx]) == sorted(aggs.session[idx])
        out[key] = {int(aggs.session[i]): tuple(getattr(aggs, f)[i] for f in FIELDS) for i in idx}
    return out


def assert_same(got: dict, want: dict, rtol: float = 1e-12, m2_rtol: float = 1e-12) -> None:
    """count, min and max exact; mean to rtol; M2 to m2_rtol plus what one rounding of the
    mean moves it by (count * (a few ulps of the mean)**2: M2 of values a few ulps apart
    has no more digits than that)."""
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].keys() == want[key].keys(), key
        for session in want[key]:
            g, w = got[key][session], want[key][session]
            assert g[0] == w[0], (key, session)
            assert g[3] == w[3] and g[4] == w[4], (key, session)          # min, max: exact
            np.testing.assert_allclose(g[1], w[1], rtol=rtol, atol=0, err_msg=str((key, session)))
            slack = w[0] * (4 * np.spacing(abs(w[1]))) ** 2
            np.testing.assert_allclose(g[2], w[2], rtol=m2_rtol, atol=slack, err_msg=str((key, session)))


def test_dataset_aggregates_match_numpy(any_store_url):
    """Includes a session holding 5e-324 and -1.8e308, whose squared deviations overflow
    (the SQL servers refuse the arithmetic; the store must still answer, like numpy)."""
    with open_store(any_store_url) as store:
        dataset.write(store)
    with open_store(any_store_url, readonly=True) as store:
        aggs = store.session_aggregates()
    assert aggs.count.dtype == np.int64 and aggs.mean.dtype == np.float64
    assert int(aggs.count.sum()) == len(dataset.samples())
    got = as_dict(aggs)
    assert_same(got, expected(dataset.samples()))
    overflow = got[("fp/syscall", "ns_per_call", "6.9.0", dataset.SUTS[0].id)][7]
    assert overflow[0] == 2 and overflow[2] == np.inf and overflow[3] == -1.7976931348623157e308


@pytest.mark.parametrize("filters", [
    {"swprofiles": ["6.8.0-baseline", "6.9.0"]},
    {"swprofiles": ["case-sensitive"]},
    {"sut": dataset.SUTS[1].id, "benchmark": "sysbench/thread"},
    {"benchmark": "fp/syscall", "resultclass": "Ns_per_call"},
    {"swprofiles": ["absent"]},
    {"sut": "absent"},
])
def test_filters_select_like_samples(any_store_url, filters):
    with open_store(any_store_url) as store:
        dataset.write(store)
        aggs = store.session_aggregates(**filters)
        chosen = list(store.samples(**filters))
    assert int(aggs.count.sum()) == len(chosen)
    assert_same(as_dict(aggs), expected(chosen))


def precise_store(url: str, rng) -> list[Sample]:
    """A large mean with a tiny spread (where sum(v*v) - sum(v)**2/n loses every digit),
    per-boot offsets, unequal session sizes, and a group whose first sample is an outlier."""
    samples = []
    for swp, mean in (("a", 1.0e6), ("b", 2.5e9)):
        for session in range(6):
            offset = rng.normal(0, 1e-2)
            for repeat in range(40 + 7 * session):
                samples.append(Sample("lab", swp, "bench/x", "rc", session, repeat,
                                      float(mean + offset + rng.normal(0, 1e-3))))
    samples.append(Sample("lab", "c", "bench/x", "rc", 0, 0, 1.0e9))
    samples += [Sample("lab", "c", "bench/x", "rc", s, r, float(1.0 + rng.normal(0, 1e-6)))
                for s in range(3) for r in range(1, 300)]
    with open_store(url) as store:
        store.put_sut(Sut("lab"))
        for swp in ("a", "b", "c"):
            store.put_swprofile(SwProfile(swp))
        store.put_benchmark(Benchmark("bench/x", "bench", "x"))
        store.put_resultclass(ResultClass("bench/x", "rc", "ns", "lower"))
        store.append_samples(samples)
    return samples


def test_small_spread_on_a_large_mean_keeps_its_digits(any_store_url):
    samples = precise_store(any_store_url, np.random.default_rng(3))
    with open_store(any_store_url, readonly=True) as store:
        got = as_dict(store.session_aggregates())
    # per-session M2 is promised to about 1e-9 (see sqlcolumns.MAX_SESSION_RATIO)
    assert_same(got, expected(samples), m2_rtol=1e-9)
    totals = {}
    for key, sessions in got.items():
        n, mean, m2 = (np.array([s[i] for s in sessions.values()]) for i in range(3))
        grand = (n * mean).sum() / n.sum()
        totals[key] = m2.sum() + (n * (mean - grand) ** 2).sum()
    for key in totals:                  # what the statistics use: the group's M2, to 1e-12
        v = np.array([s.value for s in samples if (s.benchmark, s.resultclass, s.swprofile, s.sut) == key])
        # combining session means, each rounded by ~ulp(mean), moves M2 by about
        # 2 * ulp * sum(|v - mean|): the limit of any per-session method, numpy's included
        ulp = 4 * np.spacing(abs(v.mean()))
        slack = v.size * ulp ** 2 + 2 * ulp * np.abs(v - v.mean()).sum()
        assert totals[key] == pytest.approx(((v - v.mean()) ** 2).sum(), rel=1e-12, abs=slack)
    # the naive formula would be off by far more than that tolerance here
    v = np.array([s.value for s in samples if s.swprofile == "b" and s.session == 0])
    naive = (v * v).sum() - v.sum() ** 2 / v.size
    assert abs(naive - ((v - v.mean()) ** 2).sum()) > 1e-6 * ((v - v.mean()) ** 2).sum()


def test_from_columns_matches_numpy():
    rng = np.random.default_rng(5)
    n = 5000
    sut, swp, rc = rng.integers(0, 2, n), rng.integers(0, 3, n), rng.integers(0, 4, n)
    session, value = rng.integers(0, 7, n), rng.normal(50, 3, n)
    from fastpath.store import SampleColumns

    cols = SampleColumns(["s0", "s1"], ["w0", "w1", "w2"], [("b", f"r{i}") for i in range(4)],
                         sut, swp, rc, session, np.arange(n), value)
    samples = [Sample(f"s{sut[i]}", f"w{swp[i]}", "b", f"r{rc[i]}", int(session[i]), i,
                      float(value[i])) for i in range(n)]
    assert_same(as_dict(SessionAggregates.from_columns(cols)), expected(samples))
    empty = SessionAggregates.from_columns(SampleColumns([], [], [], *(np.empty(0, np.int64)
                                                                       for _ in range(5)),
                                                         np.empty(0)))
    assert len(empty) == 0 and empty.groups() == {}
