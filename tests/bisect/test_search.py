"""`fastpath bisect auto` with the engine (bisect/search.py) without the lab: real git
repositories, the build stand-in of test_auto.py (each commit's value.txt says what it is),
and an oracle measurement that draws a session from the commit's recorded level (asv's way
of testing a bisection: a generated repository whose commits encode known values). The lab
test (test_lab_bisection.py) runs the same code with real kernels and boots."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time

import numpy as np
import pytest
import yaml

from fastpath.bisect import context as contexts
from fastpath.bisect import search
from fastpath.bisect.engine import FOUND
from fastpath.errors import UserError
from tests.bisect.conftest import make_baseline_store
from tests.bisect.test_auto import history, scripts  # noqa: F401  (fixture)
from tests.bisect.test_driver import git


class OracleMeasure:
    """One session of a commit: its value.txt's level plus seeded noise (sd 1, the baselines'
    noise); "broken" never gets here (it does not build), "noboot" does not boot.
    ``stop_after``: raise KeyboardInterrupt at that session (an interrupted run)."""

    def __init__(self, repo, seed=1, stop_after=None):
        self.repo, self.rng, self.stop_after = repo, np.random.default_rng(seed), stop_after
        self.calls: list[str] = []

    def __call__(self, sha, build):
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise KeyboardInterrupt
        self.calls.append(sha)
        value = git(self.repo, "show", f"{sha}:value.txt").strip()
        if value == "noboot":
            return None, "the kernel did not boot (injected)"
        return float(value) + self.rng.standard_normal(), ""


def values_with(n, culprit, step=10.0, **special):
    vals = [str(100.0 + (step if i >= culprit else 0.0)) for i in range(n)]
    for i, v in special.items():
        vals[int(i.lstrip("c"))] = v
    return vals


def with_baselines(tmp_path, name, **store):
    """Give the test's context another baseline store (make_baseline_store's settings)."""
    path = tmp_path / "ctx.yaml"
    ctx = contexts.load(path)
    ctx.output_resultstore = make_baseline_store(f"sqlite:///{tmp_path}/{name}.db", **store)
    contexts.save(ctx, path)
    return path


def test_engine_finds_the_culprit_and_writes_it_into_git(tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(24, 15))
    measure = OracleMeasure(repo)
    lines = []
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=measure, progress=False,
                      say=lines.append)
    assert r.answer.status == FOUND and r.exit_code == 0
    assert r.commits[r.answer.culprit.index] == shas[15]
    assert r.answer.culprit.probability >= 0.999
    assert 5 < r.answer.culprit.step < 15                 # the step, in the value's units, ~10
    lo, hi = r.answer.culprit.step_ci95
    assert lo < 10 < hi
    # far fewer sessions than commits, each one logged in the context in order
    ctx = contexts.load(tmp_path / "ctx.yaml")
    assert len(ctx.engine["sessions"]) == len(measure.calls) == r.taken < 24
    assert ctx.engine["status"] == "found"
    assert ctx.engine["answer"]["culprit"]["sha"] == shas[15]
    assert len(ctx.engine["posterior"]) == 24 and ctx.engine["posterior"][0] == 0
    # git knows the answer as a bisection a kernel engineer reads
    log = git(repo, "bisect", "log")
    assert f"# first bad commit: [{shas[15]}]" in log
    assert "git bisect bad " + shas[15] in log
    assert "git bisect good " + shas[14] in log
    assert "First bad commit: " + shas[15] in search.summary(r)
    git(repo, "bisect", "reset")
    assert git(repo, "rev-parse", "HEAD") == shas[-1]      # back where it was


def test_an_interrupted_engine_run_resumes_without_retaking_a_session(tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(40, 23))
    first = OracleMeasure(repo, seed=2, stop_after=4)
    with pytest.raises(KeyboardInterrupt):
        search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=first, progress=False,
                      say=lambda s: None)
    ctx = contexts.load(tmp_path / "ctx.yaml")
    assert len(ctx.engine["sessions"]) == 4             # every session taken before Ctrl-C is kept
    assert git(repo, "rev-parse", "HEAD") == shas[-1]
    again = OracleMeasure(repo, seed=3)
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=again, progress=False,
                      say=lambda s: None)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[23]
    done = contexts.load(tmp_path / "ctx.yaml").engine["sessions"]
    assert [e["sha"] for e in done[:4]] == first.calls
    assert len(done) == 4 + len(again.calls) == r.answer.sessions


def test_untestable_commits_are_routed_around(tmp_path, scripts):  # noqa: F811
    # 11 does not build, 12 does not boot: the culprit 13 cannot be pinned closer than 11..13
    repo, shas = history(tmp_path, values_with(20, 13, c11="broken", c12="noboot"))
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=OracleMeasure(repo, seed=4),
                      progress=False, say=lambda s: None)
    assert r.answer.status == FOUND
    c = r.answer.culprit
    assert r.commits[c.index] == shas[13] and c.width == 3
    assert [r.commits[i] for i in c.candidates] == [shas[11], shas[12], shas[13]]
    assert set(r.untestable) == {shas[11], shas[12]}
    assert "does not build" in r.untestable[shas[11]] and "did not boot" in r.untestable[shas[12]]
    assert "not pinned to one commit" in search.summary(r)
    ctx = yaml.safe_load((tmp_path / "ctx.yaml").read_text())
    assert set(ctx["engine"]["untestable"]) == {shas[11], shas[12]}
    git(repo, "bisect", "reset")


def test_an_improvement_in_the_range_is_reported_not_blamed(tmp_path, scripts):  # noqa: F811
    vals = values_with(30, 20)
    for i in range(6, 9):
        vals[i] = "60.0"                                  # far better than good, undone at 9
    repo, shas = history(tmp_path, vals)
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=OracleMeasure(repo, seed=5),
                      progress=False, say=lambda s: None)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[20]
    assert all(r.commits[c.index] != shas[9] for c in r.answer.culprits)
    git(repo, "bisect", "reset")


def test_ends_too_close_are_measured_then_refused_after_the_end_budget(tmp_path, scripts):  # noqa: F811
    """Three baseline sessions each, 0.4 sd apart, and a range with no step at all: the
    engine does not refuse for want of baselines, it measures the ends itself; after
    end_budget such sessions they are still not told apart, and it refuses, saying so."""
    repo, shas = history(tmp_path, values_with(10, 5, step=0.0))
    path = with_baselines(tmp_path, "close", bad_mean=100.4, sessions=3)
    measure = OracleMeasure(repo, seed=6)
    r = search.search(str(path), str(repo), str(scripts), measure=measure, overrides={"end_budget": 12},
                      progress=False, say=lambda s: None)
    assert r.answer.status == "refused" and r.exit_code == 1
    assert len(measure.calls) == 12 and set(measure.calls) == {shas[0], shas[-1]}
    assert "not told apart" in search.summary(r)


def test_few_baselines_are_not_refused_the_engine_measures_the_ends(tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(16, 9, step=1.5))
    path = with_baselines(tmp_path, "few", bad_mean=101.5, sessions=2)
    measure = OracleMeasure(repo, seed=7)
    r = search.search(str(path), str(repo), str(scripts), measure=measure, progress=False, say=lambda s: None)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[9]
    assert measure.calls.count(shas[0]) + measure.calls.count(shas[-1]) >= 2    # it measured the ends
    git(repo, "bisect", "reset")


def test_a_context_for_another_range_is_refused(tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(8, 4))
    path = tmp_path / "ctx.yaml"
    ctx = contexts.load(path)
    ctx.engine = {"commits": ["0" * 40, "1" * 40]}
    contexts.save(ctx, path)
    with pytest.raises(UserError, match="another range"):
        search.search(str(path), str(repo), str(scripts), measure=OracleMeasure(repo), progress=False)


def test_bisect_auto_cli_defaults_to_the_engine(tmp_path, scripts):  # noqa: F811
    """Through the command: --engine posterior is the default; the SUT of this context is a
    closed port, so the first session fails with the SUT's error (exit 2), logged, no traceback."""
    repo, shas = history(tmp_path, values_with(8, 4))
    proc = subprocess.run(["python3", "-m", "fastpath", "bisect", "auto", "--context", str(tmp_path / "ctx.yaml"),
                           "--tree", str(repo), "--scripts", str(scripts), "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "building " in proc.stdout and "session 1:" in proc.stdout


def test_sessions_in_the_store_but_not_in_the_log_are_not_taken_again(tmp_path, scripts):  # noqa: F811
    """A run killed after the store's write and before the context's: the sessions the output
    store holds for a commit of the range are taken into the log on the next run."""
    from fastpath.store import open_store
    from fastpath.store.model import SwProfile
    from tests.bisect.conftest import add_sessions

    repo, shas = history(tmp_path, values_with(20, 12))
    ctx = contexts.load(tmp_path / "ctx.yaml")
    name = "bisect-" + shas[10][:12]
    with open_store(ctx.output_resultstore) as store:
        store.put_swprofile(SwProfile(name, kernel_name="6.1.0", kernel_git_sha=shas[10], userspace="busybox",
                                      cmdline=("quiet",)))
        add_sessions(store, name, [100.2, 99.8])
    measure = OracleMeasure(repo, seed=8)
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=measure, progress=False,
                      say=lambda s: None)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[12]
    log = contexts.load(tmp_path / "ctx.yaml").engine["sessions"]
    recovered = [e for e in log if e.get("recovered")]
    assert [e["sha"] for e in recovered] == [shas[10], shas[10]]
    assert r.answer.sessions == len(measure.calls) + 2
    git(repo, "bisect", "reset")


class TimedOracleMeasure(OracleMeasure):
    """OracleMeasure called from several threads: each session takes ``seconds`` and records
    its thread, its time window and the order sessions end in."""

    def __init__(self, repo, seed=1, stop_after=None, seconds=0.05):
        super().__init__(repo, seed, stop_after)
        self.lock, self.seconds = threading.Lock(), seconds
        self.windows: list[tuple[str, float, float, int]] = []     # sha, start, end, thread id
        self.ended: list[str] = []

    def __call__(self, sha, build):
        start = time.monotonic()
        with self.lock:
            out = super().__call__(sha, build)
        time.sleep(self.seconds * (1 + len(self.calls) % 4))    # sessions of a batch end apart
        with self.lock:
            self.windows.append((sha, start, time.monotonic(), threading.get_ident()))
            self.ended.append(sha)
        return out


def overlapping(windows) -> int:
    """Pairs of sessions of distinct commits whose time windows overlap."""
    return sum(1 for a, b in itertools.combinations(windows, 2)
               if a[0] != b[0] and a[1] < b[2] and b[1] < a[2])


@pytest.mark.parametrize("k", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_k_suts_measure_k_distinct_commits_at_once(tmp_path, scripts, k):  # noqa: F811
    repo, shas = history(tmp_path, values_with(40, 23))
    measure = TimedOracleMeasure(repo, seed=8)
    lines = []
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=measure, progress=False,
                      say=lines.append, suts=k)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[23]
    starts = sorted(w[1] for w in measure.windows)
    at_once = max(sum(1 for w in measure.windows if w[1] <= t < w[2]) for t in starts)
    assert 2 <= at_once <= k                                  # at most one session per SUT at a time
    assert overlapping(measure.windows) >= len(measure.windows) // k    # batches really overlap
    # every session in the context's log, in the order the sessions ended
    log = contexts.load(tmp_path / "ctx.yaml").engine["sessions"]
    assert [e["sha"] for e in log] == measure.ended and len(log) == r.taken == r.answer.sessions
    assert r.builds == len(set(measure.calls))                # each commit built once
    git(repo, "bisect", "reset")


class SutMeasure(TimedOracleMeasure):
    """One SUT of a pool whose level sits ``offset`` above the others'."""

    def __init__(self, repo, name, offset, **kw):
        super().__init__(repo, **kw)
        self.name, self.offset = name, offset

    def __call__(self, sha, build):
        value, why = super().__call__(sha, build)
        return (None if value is None else value + self.offset), why, self.name


def test_each_sut_of_a_pool_gets_its_own_offset(tmp_path, scripts):  # noqa: F811
    """Two SUTs, the second reading 6 above the first (0.6 of the regression): every session
    in the log names its SUT, the engine's model gives each an offset, and the answer (in the
    context and the summary) says them."""
    repo, shas = history(tmp_path, values_with(40, 23))
    pool = [SutMeasure(repo, "lab@a", 0.0, seed=12, seconds=0.01), SutMeasure(repo, "lab@b", 6.0, seed=13, seconds=0.01)]
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=pool, progress=False,
                      say=lambda s: None, suts=2)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[23]
    engine = contexts.load(tmp_path / "ctx.yaml").engine
    assert {e["sut"] for e in engine["sessions"]} == {"lab@a", "lab@b"}
    offsets = engine["answer"]["sut_offsets"]
    assert 4.0 < offsets["lab@b"] - offsets["lab@a"] < 8.0, offsets
    assert "SUT offsets" in search.summary(r) and "lab@b +" in search.summary(r)
    git(repo, "bisect", "reset")


@pytest.mark.slow     # a claim about cost, two whole searches
def test_k_suts_take_fewer_rounds_than_one(tmp_path, scripts):  # noqa: F811
    """The point of a pool: with 4 SUTs the bisection needs fewer rounds (batches) than
    sessions one at a time, though it may take more sessions in all."""
    repo, shas = history(tmp_path, values_with(64, 41))
    one = TimedOracleMeasure(repo, seed=9, seconds=0)
    search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=one, progress=False,
                  say=lambda s: None)
    git(repo, "bisect", "reset")
    (tmp_path / "four").mkdir()
    repo4, shas4 = history(tmp_path / "four", values_with(64, 41))
    four = TimedOracleMeasure(repo4, seed=9, seconds=0.02)
    lines = []
    r = search.search(str(tmp_path / "four" / "ctx.yaml"), str(repo4), str(scripts), measure=four,
                      progress=False, say=lines.append, suts=4)
    assert r.commits[r.answer.culprit.index] == shas4[41]
    rounds = sum(1 for s in lines if s.startswith("      after "))
    assert rounds < len(one.calls)
    git(repo4, "bisect", "reset")


@pytest.mark.slow     # the dev tier resumes an interrupted engine run
def test_an_interrupted_batch_run_resumes_without_retaking_a_session(tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(40, 23))
    first = TimedOracleMeasure(repo, seed=10, stop_after=5)
    with pytest.raises(KeyboardInterrupt):
        search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=first, progress=False,
                      say=lambda s: None, suts=2)
    kept = contexts.load(tmp_path / "ctx.yaml").engine["sessions"]
    # the session the other SUT was running when Ctrl-C came ended and is kept too
    assert len(kept) == 5 and [e["sha"] for e in kept] == first.ended
    again = TimedOracleMeasure(repo, seed=11)
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=again, progress=False,
                      say=lambda s: None, suts=2)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[23]
    done = contexts.load(tmp_path / "ctx.yaml").engine["sessions"]
    assert done[:len(kept)] == kept and len(done) == len(kept) + len(again.calls) == r.answer.sessions
    git(repo, "bisect", "reset")


def test_k_suts_without_a_pool_are_refused(tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(8, 4))
    with pytest.raises(UserError, match="^'suts' 2 needs a pool"):
        search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), progress=False, say=lambda s: None,
                      suts=2)
    proc = subprocess.run(["python3", "-m", "fastpath", "bisect", "auto", "--context", str(tmp_path / "ctx.yaml"),
                           "--tree", str(repo), "--scripts", str(scripts), "--suts", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "needs a pool" in proc.stderr and "Traceback" not in proc.stderr


def test_k_suts_of_a_static_pool_each_get_a_measurer_on_their_own_sut(tmp_path, scripts, sshd):  # noqa: F811
    """The plan's sut.pool (three members on the loopback sshd): K leases, fingerprinted as
    identical, each Measurer boots on its member (store id <sut>@<member>) through one locked
    store; a member that does not answer is released and the others measure; more SUTs than
    the pool has are refused."""
    import contextlib
    import socket

    from fastpath.execute.pooled import LockedStore
    from fastpath.store import open_store

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]              # nothing listens there once closed
    history(tmp_path, values_with(8, 4))
    ctx = contexts.load(tmp_path / "ctx.yaml")
    params = sshd.params()
    ctx.plan["sut"]["connection"] = {"method": "SSH", "params": {k: params[k] for k in
                                                                ("user", "keyfile", "known_hosts")}}
    ctx.plan["sut"]["boot_timeout"] = "3s"
    ctx.plan["sut"]["pool"] = {"suts": [{"name": n, "host": params["host"], "port": p}
                                        for n, p in (("a", params["port"]), ("b", params["port"]), ("c", dead))]}
    said = []
    with open_store(ctx.output_resultstore) as store:
        with contextlib.ExitStack() as stack:
            ms = search.measurers(ctx, store, False, 2, said.append, stack)
            assert [m.sut.name for m in ms] == [f"{ctx.sut}@a", f"{ctx.sut}@b"]
            assert all(m.sut.connection.port == params["port"] for m in ms)
            assert all(isinstance(m.store, LockedStore) for m in ms)
        with contextlib.ExitStack() as stack:
            ms = search.measurers(ctx, store, False, 3, said.append, stack)
            assert [m.sut.name for m in ms] == [f"{ctx.sut}@a", f"{ctx.sut}@b"]
            assert any("pool: c does not answer" in s for s in said)
        with contextlib.ExitStack() as stack, pytest.raises(UserError, match="has 3 SUTs"):
            search.measurers(ctx, store, False, 4, lambda s: None, stack)


def started_not_apart(tmp_path, sshd, shas, **store):
    """A context written by `bisect start` (the real command, the loopback sshd as the SUT)
    over baselines worse but not told apart, for the range of ``shas``; its SUT is then a
    closed port, so that any boot would fail."""
    from fastpath.cli.main import main
    from tests.bisect.test_auto import closed_port
    from tests.bisect.test_start import start_args

    url = make_baseline_store(f"sqlite:///{tmp_path}/noisy.db", **store)
    path = tmp_path / "noisy.yaml"
    assert main(start_args(sshd, url, path)) == 0
    ctx = contexts.load(path)
    assert ctx.ends_not_apart and ctx.ends_not_apart["p_value"] >= 0.05
    ctx.good_sha, ctx.bad_sha = shas[0], shas[-1]
    ctx.plan["sut"]["connection"]["params"]["port"] = closed_port()
    contexts.save(ctx, path)
    return path


def test_the_engine_goes_on_from_a_start_whose_ends_are_not_told_apart(tmp_path, scripts, sshd):  # noqa: F811
    repo, shas = history(tmp_path, values_with(16, 9, step=1.5))
    path = started_not_apart(tmp_path, sshd, shas, bad_mean=101.5, sessions=3)
    measure, said = OracleMeasure(repo, seed=7), []
    r = search.search(str(path), str(repo), str(scripts), measure=measure, progress=False, say=said.append)
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[9]
    assert measure.calls.count(shas[0]) + measure.calls.count(shas[-1]) >= 2    # it measured the ends
    assert any("the ends are not yet told apart" in line and "end_budget=60" in line for line in said)
    ctx = contexts.load(path)
    assert ctx.engine["status"] == FOUND and ctx.ends_not_apart       # start's record kept beside the engine's
    git(repo, "bisect", "reset")
