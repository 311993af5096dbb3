"""The build-ahead queue on a real git repository, with a build command that is a real process:
it sleeps as long as the commit's ``delay`` file says, writes the commit's ``image`` as bzImage,
and fails where the commit has a ``fail`` file. (The lab kernel build is the default command.)"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from fastpath.builds import BuildQueue
from fastpath.errors import BuildError

CMD = ("sh", "-c", 'echo "building $2" > "$1/started"; test ! -e fail || exit 3; '
       'sleep "$(cat delay)"; cp image "$1/bzImage"', "build", "{output}", "{sha}")


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """Commits c0..c4; c3 does not build; c4 takes 30 s."""
    r = tmp_path / "tree"
    r.mkdir()
    git(r, "init", "-q")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    shas = []
    for i in range(5):
        (r / "image").write_text(f"kernel {i}\n")
        (r / "delay").write_text("30" if i == 4 else "0.5")
        if i == 3:
            (r / "fail").write_text("x")
        elif (r / "fail").exists():
            (r / "fail").unlink()
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"c{i}")
        shas.append(git(r, "rev-parse", "HEAD"))
    return r, shas


def test_wanted_commits_are_built_ahead_in_order_and_get_returns_them(repo, tmp_path):
    tree, shas = repo
    q = BuildQueue(tree, tmp_path / "ahead", slots=1, command=CMD)
    with q:
        q.want([shas[2], shas[0]])
        first = q.get(shas[2], timeout=30)
        assert first.image.read_text() == "kernel 2\n" and first.sha == shas[2]
        second = q.get(shas[0], timeout=30)
        assert second.image.read_text() == "kernel 0\n"
        assert (first.image.parent / "started").stat().st_mtime <= \
            (second.image.parent / "started").stat().st_mtime
        again = q.get(shas[2])                    # built once, not again
        assert again.image == first.image
        assert q.get(shas[1], timeout=30).image.read_text() == "kernel 1\n"   # never wanted
    assert git(tree, "worktree", "list").count("\n") == 1          # the slot stays for next time
    with BuildQueue(tree, tmp_path / "ahead", slots=1, command=CMD) as again:
        assert again.get(shas[1]).image.read_text() == "kernel 1\n"  # built: not rebuilt
        assert again.get(shas[0], timeout=30).sha == shas[0]
    q.close(remove_worktrees=True)
    assert git(tree, "worktree", "list").count("\n") == 0          # worktrees removed
    assert git(tree, "rev-parse", "HEAD") == shas[-1]               # the tree itself untouched


def test_a_build_no_longer_wanted_is_stopped_and_leaves_nothing(repo, tmp_path):
    tree, shas = repo
    with BuildQueue(tree, tmp_path / "ahead", slots=1, command=CMD) as q:
        q.want([shas[4]])
        deadline = time.monotonic() + 10
        while shas[4] not in q.running or not (tmp_path / "ahead/out" / (shas[4] + ".partial")
                                               / "started").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pid = q.running[shas[4]].proc.pid
        q.want([shas[1]])                         # c4 is not needed any more
        assert q.stopped == [shas[4]]
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
        assert not (tmp_path / "ahead/out" / shas[4]).exists()
        assert not (tmp_path / "ahead/out" / (shas[4] + ".partial")).exists()
        assert q.get(shas[1], timeout=30).image.read_text() == "kernel 1\n"


def test_get_of_an_unwanted_commit_makes_room_and_a_failed_build_is_a_build_error(repo, tmp_path):
    tree, shas = repo
    with BuildQueue(tree, tmp_path / "ahead", slots=1, command=CMD) as q:
        q.want([shas[4]])
        t = time.monotonic()
        assert q.get(shas[0], timeout=30).image.read_text() == "kernel 0\n"
        assert time.monotonic() - t < 20 and q.stopped == [shas[4]]
        with pytest.raises(BuildError, match=rf"build of {shas[3][:12]} failed: exit status 3"):
            q.get(shas[3], timeout=30)
        q.want([shas[3], shas[2]])                # a failed build is not retried
        assert q.get(shas[2], timeout=30).sha == shas[2]


def test_close_stops_running_builds(repo, tmp_path):
    tree, shas = repo
    q = BuildQueue(tree, tmp_path / "ahead", slots=2, command=CMD)
    q.want([shas[4], shas[0]])
    time.sleep(1)
    procs = [j.proc for j in q.running.values()]
    q.close()
    assert all(p.poll() is not None for p in procs)
    with pytest.raises(BuildError, match="closed"):
        q.get(shas[4])
