"""Grouping columnar samples, checked against a plain-Python grouping; and its speed."""

from __future__ import annotations

import time

import numpy as np

from fastpath.analysis.group import factorize, group_samples


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


def test_a_million_samples_group_quickly():
    rng = np.random.default_rng(0)
    n = 1_000_000
    names = np.array([f"rc-{i}" for i in range(10)], dtype=object)
    rc = names[rng.integers(0, 10, n)].tolist()
    start = time.perf_counter()
    groups = group_samples(["sysbench/thread"] * n, rc, ["6.1"] * n, ["lab"] * n, rng.integers(0, 10, n),
                           rng.normal(size=n))
    assert len(groups) == 10 and sum(g.values.size for g in groups) == n
    assert time.perf_counter() - start < 1.0
