"""A bisection over a pool reads the sessions of every SUT of it (bisect/data.context_suts):
the baselines, and the store's sessions missing from the context's log (search._unlogged), on
real stores (SQLite and a CSV directory)."""

from __future__ import annotations

import pytest

from fastpath.bisect import context as contexts
from fastpath.bisect import data, search
from fastpath.bisect.engine import FOUND
from fastpath.bisect.run import baseline_values
from fastpath.store import open_store
from fastpath.store.model import Session, Sut, SwProfile
from tests.bisect.conftest import BENCH, RC, add_sessions, make_baseline_store
from tests.bisect.test_auto import history, scripts  # noqa: F401  (fixture)
from tests.bisect.test_driver import git
from tests.bisect.test_search import OracleMeasure, values_with

POOL = {"suts": [{"name": "a", "host": "127.0.0.1"}, {"name": "b", "host": "127.0.0.1"}]}


@pytest.fixture(params=["sqlite", "csv"])
def out_url(request, tmp_path):
    url = f"sqlite:///{tmp_path}/out.db" if request.param == "sqlite" else str(tmp_path / "out")
    return make_baseline_store(url)


def pooled_context(tmp_path, url, pool=True) -> contexts.Context:
    ctx = contexts.Context(
        plan={"sut": {"name": "lab", "connection": {"method": "SSH", "params": {"host": "127.0.0.1"}},
                      **({"pool": POOL} if pool else {})},
              "swprofiles": [{}], "benchmarks": [{"include": "fp/syscall.yaml"}]},
        good_swprofile="v-good", good_sha="1" * 40, bad_swprofile="v-bad", bad_sha="2" * 40,
        resultclass=RC, resultstore="sqlite:////nonexistent/orig.db", output_resultstore=url,
        benchmark=BENCH, improvement="lower")
    contexts.save(ctx, tmp_path / "ctx.yaml")
    return contexts.load(tmp_path / "ctx.yaml")            # as `bisect auto` reads it


def add_on(store, sut, swprofile, means, started, first=0):
    """Sessions of ``swprofile`` on ``sut`` with rows saying when each started."""
    store.put_sut(Sut(sut))
    add_sessions(store, swprofile, means, sut=sut, first=first)
    for k, when in enumerate(started):
        store.put_session(Session(sut, swprofile, first + k, status="complete",
                                  started=when, finished=when))


def test_context_suts_are_the_sut_and_its_pool_members(tmp_path, out_url):
    with open_store(out_url) as store:
        for other in ("lab@a", "lab@b", "labx", "other@a", "lab2@a"):
            store.put_sut(Sut(other))
        assert data.context_suts(pooled_context(tmp_path, out_url), store) == ["lab", "lab@a", "lab@b"]
        assert data.context_suts(pooled_context(tmp_path, out_url, pool=False), store) == ["lab"]


def test_several_suts_values_come_in_the_order_they_started(out_url):
    with open_store(out_url) as store:
        store.put_swprofile(SwProfile("k"))
        add_on(store, "lab@a", "k", [1.0, 3.0], ["2026-01-01T00:00:01", "2026-01-01T00:00:03"])
        add_on(store, "lab@b", "k", [2.0, 4.0], ["2026-01-01T00:00:02", "2026-01-01T00:00:04"])
        got = data.session_values(store, ["lab", "lab@a", "lab@b"], "k", BENCH, RC)
        assert got == pytest.approx([1.0, 2.0, 3.0, 4.0], abs=0.05)
        assert data.session_values(store, "lab@b", "k", BENCH, RC) == pytest.approx([2.0, 4.0], abs=0.05)
        assert data.session_values(store, ["lab"], "k", BENCH, RC) == []


def test_baselines_of_a_pooled_context_count_every_sut_of_the_pool(tmp_path, out_url):
    with open_store(out_url) as store:
        lab = baseline_values(pooled_context(tmp_path, out_url, pool=False), store)
        add_on(store, "lab@a", "v-good", [99.0, 101.0], ["2030-01-01T00:00:00"] * 2)
        add_on(store, "lab@b", "v-bad", [112.0], ["2030-01-01T00:00:00"])
        add_on(store, "elsewhere", "v-bad", [500.0], ["2030-01-01T00:00:00"])
        good, bad = baseline_values(pooled_context(tmp_path, out_url), store)
        assert len(lab[0]) == len(lab[1]) == 8
        assert good[:8] == lab[0] and good[8:] == pytest.approx([99.0, 101.0], abs=0.05)
        assert bad[:8] == lab[1] and bad[8:] == pytest.approx([112.0], abs=0.05)
        assert baseline_values(pooled_context(tmp_path, out_url, pool=False), store) == lab


def test_unlogged_sessions_on_any_sut_of_the_pool_are_recovered_by_value(tmp_path, out_url):
    """The log has one of commit c's three sessions (the one that ended second, on lab@b);
    the two others, on lab@a, are recovered, not the logged one again."""
    ctx = pooled_context(tmp_path, out_url)
    commits = ["1" * 40, "c" * 40, "2" * 40]
    name = "bisect-" + "c" * 12
    with open_store(out_url) as store:
        store.put_swprofile(SwProfile(name))
        add_on(store, "lab@a", name, [101.0, 103.0], ["2030-01-01T00:00:01", "2030-01-01T00:00:03"])
        add_on(store, "lab@b", name, [102.0], ["2030-01-01T00:00:02"])
        logged_value = data.session_values(store, "lab@b", name, BENCH, RC)[0]
        log = [{"index": 1, "sha": commits[1], "swprofile": name, "value": logged_value}]
        extra = search._unlogged(ctx, store, commits, log)
        assert [e["value"] for e in extra] == pytest.approx([101.0, 103.0], abs=0.05)
        assert all(e["recovered"] and e["index"] == 1 for e in extra)
        assert [e["sut"] for e in extra] == ["lab@a", "lab@a"]     # the SUT that took each, for its offset
        assert search._unlogged(ctx, store, commits, log + extra) == []
        # without the pool only the context's own SUT counts: nothing of lab@a, lab@b
        assert search._unlogged(pooled_context(tmp_path, out_url, pool=False), store, commits, log) == []
        # ... and a session of its own is recovered without a SUT (a log with SUTs means a pool)
        add_sessions(store, name, [104.0], sut="lab", first=5)
        store.put_session(Session("lab", name, 5, status="complete", started="2030-01-01T00:00:04"))
        alone = search._unlogged(pooled_context(tmp_path, out_url, pool=False), store, commits, [])
        assert [e["value"] for e in alone] == pytest.approx([104.0], abs=0.05) and "sut" not in alone[0]


def test_not_logged_matches_values_and_falls_back_to_counting():
    assert search._not_logged([1.0, 2.0, 3.0], [2.0]) == [1.0, 3.0]
    assert search._not_logged([2.0, 2.0, 3.0], [2.0]) == [2.0, 3.0]
    assert search._not_logged([1.0, 2.0], [7.0]) == [2.0]        # not in the store: counted


def test_a_pooled_bisection_resumes_with_the_pool_sessions_of_the_store(tmp_path, scripts):  # noqa: F811
    """search.search on a context whose plan names a pool: sessions of a commit found on two
    members of the pool (and not in the log) join the log, recovered, and are not taken
    again."""
    repo, shas = history(tmp_path, values_with(20, 12))
    ctx = contexts.load(tmp_path / "ctx.yaml")
    ctx.plan["sut"]["pool"] = POOL
    contexts.save(ctx, tmp_path / "ctx.yaml")
    name = "bisect-" + shas[10][:12]
    with open_store(ctx.output_resultstore) as store:
        store.put_swprofile(SwProfile(name, kernel_git_sha=shas[10]))
        add_on(store, "lab@a", name, [100.2], ["2030-01-01T00:00:01"])
        add_on(store, "lab@b", name, [99.8], ["2030-01-01T00:00:02"])
    measure = OracleMeasure(repo, seed=8)
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=measure,
                      progress=False, say=lambda s: None)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[12]
    log = contexts.load(tmp_path / "ctx.yaml").engine["sessions"]
    recovered = [e for e in log if e.get("recovered")]
    assert [e["sha"] for e in recovered] == [shas[10], shas[10]]
    assert [e["value"] for e in recovered] == pytest.approx([100.2, 99.8], abs=0.05)
    assert [e["sut"] for e in recovered] == ["lab@a", "lab@b"]
    assert r.answer.sessions == len(measure.calls) + 2
    git(repo, "bisect", "reset")


def test_bisect_status_times_sessions_on_every_sut_of_the_pool(tmp_path, out_url):
    """`bisect status` estimates the time to go from the sessions' own durations: a pool's
    sessions are stored under its members' ids, and count."""
    from fastpath.report.progress import session_seconds

    with open_store(out_url) as store:
        store.put_swprofile(SwProfile("bisect-x"))
        store.put_sut(Sut("lab@a"))
        store.put_session(Session("lab@a", "bisect-x", 0, status="complete",
                                  started="2030-01-01T00:00:00", finished="2030-01-01T00:02:00"))
        assert session_seconds(store, pooled_context(tmp_path, out_url), {"bisect-x"}) == 120.0
        assert session_seconds(store, pooled_context(tmp_path, out_url, pool=False), {"bisect-x"}) is None
