"""`fastpath bisect auto --ahead N`: kernels built ahead by a build queue while the sessions
run (bisect/search.py with fastpath.builds.BuildQueue and bisect/lookahead.py). Real git
repositories (test_auto.history), real build processes: the build_local_kernel.sh stand-in
of test_auto.py through the queue's default command, or a shell script that leaves marks of
when it started and when it was stopped; the oracle measurement of test_search.py."""

from __future__ import annotations

import subprocess
import time

import pytest

from fastpath.bisect import context as contexts
from fastpath.bisect import search
from fastpath.bisect.engine import FOUND
from tests.bisect.test_auto import history, scripts  # noqa: F401  (fixture)
from tests.bisect.test_driver import git
from tests.bisect.test_search import OracleMeasure, values_with

# A build of {sha}: appends the time it started to <log>/<sha>.started, sleeps <log>/delay
# seconds, writes the sha as bzImage; stopped (SIGTERM to its group), it appends the time to
# <log>/<sha>.stopped.
MARKING = ('log="$1"; sha="$2"; out="$3"; date +%s.%N >> "$log/$sha.started"; '
           'trap \'date +%s.%N >> "$log/$sha.stopped"; exit 143\' TERM; '
           'sleep "$(cat "$log/delay")" & wait $!; echo "$sha" > "$out/bzImage"')


def marking_command(log):
    return ("sh", "-c", MARKING, "build", str(log), "{sha}", "{output}")


def times(log, kind) -> dict[str, list[float]]:
    """Per commit, when its builds started (kind "started") or were stopped ("stopped")."""
    return {p.name.split(".")[0]: [float(t) for t in p.read_text().split()] for p in log.glob(f"*.{kind}")}


def marks(log, kind) -> dict[str, int]:
    return {sha: len(ts) for sha, ts in times(log, kind).items()}


class WatchingMeasure(OracleMeasure):
    """A session of ``seconds`` (wall clock), its window noted."""

    def __init__(self, repo, seed=1, seconds=1.6, stop_after=None):
        super().__init__(repo, seed, stop_after)
        self.seconds = seconds
        self.windows: list[tuple[str, float, float]] = []      # sha, start, end (time.time())

    def __call__(self, sha, build):
        assert open(build.image).read().strip() == sha and build.gitsha == sha
        start = time.time()
        time.sleep(self.seconds)
        out = super().__call__(sha, build)
        self.windows.append((sha, start, time.time()))
        return out


@pytest.mark.slow
def test_while_a_session_runs_the_next_likely_commit_builds_and_an_unneeded_build_is_stopped(
        tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(40, 23))
    log = tmp_path / "marks"
    log.mkdir()
    (log / "delay").write_text("1")
    out = repo / ".fastpath-build" / "ahead" / "out"
    measure = WatchingMeasure(repo, seed=16, seconds=1.6)     # a history where two builds ahead go unneeded
    lines: list[str] = []
    head, moves = git(repo, "rev-parse", "HEAD"), git(repo, "reflog")
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=measure, progress=False,
                      say=lines.append, ahead=1, build_command=marking_command(log))
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[23]
    # builds take 1 s, sessions 1.6 s, one slot: while each of the first sessions ran (the
    # range still wide), the queue began building another commit
    started = times(log, "started")
    w = measure.windows
    for sha, start, end in w[:3]:
        assert any(start < t < end for other, ts in started.items() if other != sha for t in ts), (sha, started)
    # and each commit asked for the first time after the first round had begun building
    # before that round: the look-ahead of the round before had named it
    new = [(n, sha) for n, (sha, _, _) in enumerate(w) if n and sha not in [x for x, _, _ in w[:n]]]
    assert len(new) >= 3
    assert all(started[sha][0] < w[n - 1][2] for n, sha in new), (new, started, w)
    assert r.ready >= 1 and sum(s.startswith("      built ahead ") for s in lines) == r.ready
    # a build the engine turned out not to need was stopped: its process got SIGTERM, no image
    stopped = marks(log, "stopped")
    assert stopped and r.stopped == sum(stopped.values())
    assert all(not (out / f"{s}.partial").exists() for s in stopped)
    assert "builds ahead stopped" in search.summary(r)
    # each commit measured was built once, in the queue's worktree: the tree itself never moved
    assert r.builds == len(set(measure.calls)) and all(marks(log, "started")[s] >= 1 for s in measure.calls)
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "reflog") == moves   # never checked out
    assert git(repo, "status", "--porcelain", "-uno") == ""
    git(repo, "bisect", "reset")


def test_the_default_build_ahead_runs_build_local_kernel_in_a_worktree(tmp_path, scripts):  # noqa: F811
    """Through gittree.ahead_command (the scripts' build_local_kernel.sh, as without --ahead):
    a commit that does not build is untestable, the others' images are the commits'; the
    same answer as without build-ahead."""
    repo, shas = history(tmp_path, values_with(20, 13, c11="broken", c12="noboot"))
    measure = OracleMeasure(repo, seed=4)
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=measure, progress=False,
                      say=lambda s: None, ahead=2)
    assert r.answer.status == FOUND
    c = r.answer.culprit
    assert r.commits[c.index] == shas[13] and c.width == 3
    assert set(r.untestable) == {shas[11], shas[12]}
    assert "does not build" in r.untestable[shas[11]] and "injected" in r.untestable[shas[11]]
    out = repo / ".fastpath-build" / "ahead" / "out"
    for sha in set(measure.calls):
        assert (out / sha / "bzImage").read_text() == sha       # the stand-in writes the sha it built
    assert len(git(repo, "worktree", "list").splitlines()) == 3  # the tree and its two slots
    git(repo, "bisect", "reset")


@pytest.mark.slow
def test_an_interrupted_run_stops_its_builds_and_resumes_on_the_images_built(tmp_path, scripts):  # noqa: F811
    repo, shas = history(tmp_path, values_with(40, 23))
    log = tmp_path / "marks"
    log.mkdir()
    (log / "delay").write_text("1")
    out = repo / ".fastpath-build" / "ahead" / "out"
    first = WatchingMeasure(repo, seed=2, stop_after=3, seconds=0.42)
    with pytest.raises(KeyboardInterrupt):
        search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=first, progress=False,
                      say=lambda s: None, ahead=1, build_command=marking_command(log))
    assert len(contexts.load(tmp_path / "ctx.yaml").engine["sessions"]) == 3
    started, stopped = marks(log, "started"), marks(log, "stopped")
    # no build left running: each one started is either done or was stopped
    assert all((out / s / "done").exists() or s in stopped for s in started)
    assert subprocess.run(["pgrep", "-f", str(log)], capture_output=True).returncode == 1
    built = {s for s in started if (out / s / "done").exists()}
    again = WatchingMeasure(repo, seed=3, seconds=0)
    r = search.search(str(tmp_path / "ctx.yaml"), str(repo), str(scripts), measure=again, progress=False,
                      say=lambda s: None, ahead=1, build_command=marking_command(log))
    assert r.answer.status == FOUND and r.commits[r.answer.culprit.index] == shas[23]
    now = marks(log, "started")
    assert all(now[s] == started[s] for s in built)               # built before: not built again
    assert r.ready >= len(built & set(again.calls))
    git(repo, "bisect", "reset")


def test_bisect_auto_ahead_through_the_command(tmp_path, scripts):  # noqa: F811
    """`bisect auto --ahead 1`: the pick is built in the queue's worktree, the closed-port SUT
    stops the run (exit 2) and the queue with it; `--engine git --ahead 1` is refused."""
    repo, shas = history(tmp_path, values_with(8, 4))
    argv = ["python3", "-m", "fastpath", "bisect", "auto", "--context", str(tmp_path / "ctx.yaml"),
            "--tree", str(repo), "--scripts", str(scripts), "--no-progress", "--ahead", "1"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert "building " in proc.stdout and "session 1:" in proc.stdout
    assert (repo / ".fastpath-build" / "ahead" / "slot-0" / ".git").exists()
    assert not list((repo / ".fastpath-build" / "ahead" / "out").glob("*.partial"))   # nothing left building
    proc = subprocess.run(argv + ["--engine", "git"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "--ahead needs the engine" in proc.stderr
