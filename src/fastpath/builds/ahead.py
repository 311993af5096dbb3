"""Kernels built ahead: a queue that builds the commits a bisection is likely to ask for next.

    q = BuildQueue("/lab/linux", "/tmp/ahead", slots=1)   # its own git worktrees of the tree
    q.want(["a1b2c3...", "d4e5f6..."])    # most wanted first: starts builds, stops unwanted ones
    build = q.get("a1b2c3...")            # waits for it (starting it now if nobody wanted it)
    build.image, build.modules, build.seconds
    q.close()                             # stops every build (the worktrees stay, for next time)

Each slot is a detached git worktree of the kernel tree, reused from build to build, so a
build is incremental (and ccache, when installed, serves objects across slots). A build is one
process group running the build command (default ``fastpath lab build {tree} --output
{output}``; any command that leaves ``bzImage`` or ``Image.gz``, and optionally
``modules.tar.xz``, in ``{output}``), so a build that is no longer wanted is stopped at once
(SIGTERM to the group, SIGKILL after 10 s) and leaves no half-written result behind. Finished
builds stay in ``<workdir>/out/<sha>`` and are not rebuilt. Thread-safe.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

from fastpath.errors import BuildError, UserError
from fastpath.lab.home import git

DEFAULT_COMMAND = (sys.executable, "-m", "fastpath", "lab", "build", "{tree}", "--output", "{output}")
IMAGES = ("bzImage", "Image.gz", "Image")


@dataclasses.dataclass(frozen=True)
class Build:
    sha: str
    image: pathlib.Path
    modules: pathlib.Path | None
    seconds: float
    log: pathlib.Path


@dataclasses.dataclass
class _Job:
    sha: str
    proc: subprocess.Popen | None = None
    slot: pathlib.Path | None = None
    started: float = 0.0


class BuildQueue:
    def __init__(self, tree, workdir, slots: int = 1, command=DEFAULT_COMMAND):
        self.tree = pathlib.Path(tree).expanduser().resolve()
        self.workdir = pathlib.Path(workdir).expanduser().resolve()
        if slots < 1:
            raise UserError("a build queue needs at least one slot")
        self.command = tuple(command)
        self.slots = [self.workdir / f"slot-{i}" for i in range(slots)]
        self.free = list(self.slots)
        self.wanted: list[str] = []              # most wanted first
        self.running: dict[str, _Job] = {}
        self.failed: dict[str, str] = {}         # sha -> reason
        self.stopped: list[str] = []             # builds stopped because no longer wanted
        self.cond = threading.Condition()
        self.closed = False
        (self.workdir / "out").mkdir(parents=True, exist_ok=True)
        self._watcher = threading.Thread(target=self._watch, name="build-ahead", daemon=True)
        self._watcher.start()

    # -- the three calls -------------------------------------------------------------------
    def want(self, shas) -> None:
        """Replace the wish list (most wanted first). Running builds not on it are stopped."""
        shas = [self._resolve(s) for s in shas]
        with self.cond:
            self.wanted = [s for s in dict.fromkeys(shas) if not self.done(s) and s not in self.failed]
            for sha in [s for s in self.running if s not in self.wanted]:
                self._stop(sha)
                self.stopped.append(sha)
            self._start_more()
            self.cond.notify_all()

    def get(self, sha: str, timeout: float | None = None) -> Build:
        """The build of ``sha``: at once if built, else after waiting for it (it goes to the
        front of the list). BuildError if it failed, or if it is not done within ``timeout``."""
        sha = self._resolve(sha)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            if not self.done(sha) and sha not in self.running and sha not in self.failed:
                self.wanted = [sha] + [s for s in self.wanted if s != sha]
                if not self.free and self.running:         # make room: stop the least wanted
                    victim = max(self.running, key=lambda s: self._rank(s))
                    self._stop(victim)
                    self.stopped.append(victim)
                self._start_more()
            while not self.done(sha):
                if sha in self.failed:
                    raise BuildError(f"build of {sha[:12]} failed: {self.failed[sha]}")
                if self.closed:
                    raise BuildError(f"build queue closed before {sha[:12]} was built")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise BuildError(f"build of {sha[:12]} not done within {timeout:g} s")
                self.cond.wait(0.5 if left is None else min(left, 0.5))
            return self._result(sha)

    def close(self, remove_worktrees: bool = False) -> None:
        """Stop every build. The worktrees stay for the next queue on ``workdir`` (its builds
        are then incremental); ``remove_worktrees`` deletes them (minutes for a kernel tree).
        Finished builds stay in out/."""
        with self.cond:
            self.closed = True
            for sha in list(self.running):
                self._stop(sha)
            self.cond.notify_all()
        self._watcher.join(5)
        if not remove_worktrees:
            return
        for slot in self.slots:
            if slot.exists():
                subprocess.run(["git", "-C", str(self.tree), "worktree", "remove", "--force",
                                str(slot)], capture_output=True)
        subprocess.run(["git", "-C", str(self.tree), "worktree", "prune"], capture_output=True)

    def __enter__(self) -> "BuildQueue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- state -----------------------------------------------------------------------------
    def out_dir(self, sha: str) -> pathlib.Path:
        return self.workdir / "out" / sha

    def done(self, sha: str) -> bool:
        return (self.out_dir(sha) / "done").exists()

    def _rank(self, sha: str) -> int:
        return self.wanted.index(sha) if sha in self.wanted else len(self.wanted)

    def _resolve(self, rev: str) -> str:
        return git(self.tree, "rev-parse", "--verify", f"{rev}^{{commit}}")

    def _result(self, sha: str) -> Build:
        out = self.out_dir(sha)
        image = next(out / n for n in IMAGES if (out / n).exists())
        modules = out / "modules.tar.xz"
        return Build(sha, image, modules if modules.exists() else None,
                     float((out / "done").read_text().strip() or 0), out / "build.log")

    # -- starting, stopping, finishing (called with self.cond held) ------------------------
    def _start_more(self) -> None:
        for sha in list(self.wanted):
            if not self.free or self.closed:
                return
            if sha in self.running or self.done(sha) or sha in self.failed:
                continue
            self._start(sha, self.free.pop(0))

    def _start(self, sha: str, slot: pathlib.Path) -> None:
        if not (slot / ".git").exists():
            slot.parent.mkdir(parents=True, exist_ok=True)
            git(self.tree, "worktree", "add", "--detach", "--force", str(slot), sha)
        else:
            git(slot, "checkout", "-q", "--detach", "-f", sha)
        out = self.out_dir(sha)
        partial = out.with_name(sha + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        argv = [a.format(tree=slot, output=partial, sha=sha) for a in self.command]
        logf = open(partial / "build.log", "ab")
        try:
            proc = subprocess.Popen(argv, cwd=slot, stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            logf.close()
        self.running[sha] = _Job(sha, proc, slot, time.monotonic())

    def _stop(self, sha: str) -> None:
        job = self.running.pop(sha)
        _kill_group(job.proc)
        shutil.rmtree(self.out_dir(sha).with_name(sha + ".partial"), ignore_errors=True)
        self.free.append(job.slot)

    def _watch(self) -> None:
        """Collect finished builds; start the next wanted ones."""
        while True:
            with self.cond:
                if self.closed and not self.running:
                    return
                for sha, job in list(self.running.items()):
                    status = job.proc.poll()
                    if status is not None:
                        self._finish(job, status)
                self._start_more()
                self.cond.wait(0.2)

    def _finish(self, job: _Job, status: int) -> None:
        del self.running[job.sha]
        self.free.append(job.slot)
        partial = self.out_dir(job.sha).with_name(job.sha + ".partial")
        image = next((n for n in IMAGES if (partial / n).exists()), None)
        if status != 0 or image is None:
            tail = (partial / "build.log").read_text(errors="replace").strip().splitlines()[-1:]
            self.failed[job.sha] = (f"exit status {status}" if status else f"no {IMAGES[0]} in the "
                                    f"output") + (f": {tail[0]}" if tail else "")
        else:
            (partial / "done").write_text(f"{time.monotonic() - job.started:.1f}\n")
            os.replace(partial, self.out_dir(job.sha))
        if job.sha in self.wanted:
            self.wanted.remove(job.sha)
        self.cond.notify_all()


def _kill_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the build's whole process group (make and its compilers): SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()                       # reap the leader
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            continue
        break
    proc.poll()
