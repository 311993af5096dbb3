"""bench/wall_sim.py (docs/pool.md's table) on a few small histories: the same engine loop
with k SUTs, a simulated clock."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bisect.conftest import bench_module


@pytest.mark.slow     # a claim about cost, simulated whole searches
def test_four_suts_take_less_wall_time_than_one_and_builds_ahead_are_used():
    sim = bench_module("wall_sim")
    import machines

    costs = {"build_full": 5.0, "build_incr": 1.0, "boot": 2.0, "bench": 1.0}
    rows = {}
    for k, ahead in ((1, False), (1, True), (4, False), (4, True)):
        rows[k, ahead] = [sim.engine_wall(machines.normal(100, 2.0, np.random.default_rng([7, j])), 100, k, 5,
                                          sim.EngineParams(), costs, int(ahead)) for j in range(4)]
    assert all(r["outcome"] == "correct" for rs in rows.values() for r in rs)
    wall = {key: np.mean([r["wall"] for r in rs]) for key, rs in rows.items()}
    assert wall[4, False] < 0.85 * wall[1, False]      # N=100: batches spend more sessions (docs/pool.md)
    assert all(r["hidden"] == 0 for r in rows[4, False])
    assert sum(r["hidden"] for r in rows[4, True]) > 0 and wall[4, True] < wall[4, False]
    # built ahead (bisect.lookahead, as `bisect auto --ahead`): one SUT waits far less for builds
    wait = {key: np.mean([r["wait"] for r in rs]) for key, rs in rows.items()}
    first = costs["build_full"]                         # the first build cannot be hidden
    assert wait[1, True] - first < 0.7 * (wait[1, False] - first) and wall[1, True] < wall[1, False]
    assert [r["sessions"] for r in rows[1, True]] == [r["sessions"] for r in rows[1, False]]   # same bisections
    assert all(r["cpu"] > 0 for rs in rows.values() for r in rs)
    # the hit rate: of the commits that needed a kernel (each built once without build-ahead),
    # those built ahead; the first build of a bisection is never one of them
    assert all(r["needed"] == r["builds"] for rs in (rows[1, False], rows[4, False]) for r in rs)
    assert all(0 < r["hidden"] < r["needed"] <= r["builds"] for r in rows[1, True])
    hit = sim.row("ahead", 1, rows[1, True])["hit"]
    assert 0 < hit < 100 and sim.row("none", 1, rows[1, False])["hit"] == 0
    # a session costs boot + benchmark, a build at least the incremental cost
    r = rows[1, False][0]
    assert r["wall"] >= 3.0 * r["sessions"] + 5.0 and r["builds"] >= 1
    git = sim.git_wall(machines.normal(100, 2.0, np.random.default_rng([7, 0])), 100, 5, costs)
    assert git["wall"] == 3.0 * git["sessions"] + 5.0 + (git["builds"] - 1) * 1.0
