"""Grouping columnar samples, checked against a plain-Python grouping (its speed is measured by
bench/analysis_show.py, not asserted here)."""

from __future__ import annotations

import numpy as np

from fastpath.analysis.group import factorize, group_coded, group_samples


def test_factorize_keeps_first_seen_order():
    codes, names = factorize(["b", "a", "b", "c"])
    assert codes.tolist() == [0, 1, 0, 2] and names == ["b", "a", "c"]


def test_groups_match_a_plain_python_grouping():
    rng = np.random.default_rng(4)
    n = 2000
    bench = [f"suite/b{i}" for i in rng.integers(0, 3, n)]
    rc = [f"rc{i}" for i in rng.integers(0, 4, n)]
    sut = [f"sut{i}" for i in rng.integers(0, 2, n)]
    swp = [f"6.{i}" for i in rng.integers(0, 2, n)]
    session = rng.integers(0, 5, n)
    value = rng.normal(size=n)
    expected: dict = {}
    for b, r, w, s, ses, v in zip(bench, rc, swp, sut, session, value):
        expected.setdefault((b, r, w, s), []).append((int(ses), float(v)))
    groups = group_samples(bench, rc, swp, sut, session, value)
    keys = [(g.benchmark, g.resultclass, g.swprofile, g.sut) for g in groups]
    assert keys == sorted(expected)
    for g, k in zip(groups, keys):
        assert list(zip(g.sessions.tolist(), g.values.tolist())) == expected[k]


def test_empty_columns_give_no_groups():
    assert group_samples([], [], [], [], [], []) == []


def test_a_million_coded_samples_group_into_the_right_groups():
    """The path `result show` takes: the store's columns come coded as small ints."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    rcs = [("sysbench/thread", f"rc-{i}") for i in range(10)]
    groups = group_coded(rng.integers(0, 10, n), rcs, rng.integers(0, 2, n), ["6.1", "6.2"],
                         np.zeros(n, dtype=np.int64), ["lab"], rng.integers(0, 10, n),
                         rng.normal(size=n))
    assert len(groups) == 20 and sum(g.values.size for g in groups) == n
    assert {(g.resultclass, g.swprofile) for g in groups} == {
        (f"rc-{i}", sw) for i in range(10) for sw in ("6.1", "6.2")}
