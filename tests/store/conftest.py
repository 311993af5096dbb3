"""Store test fixtures: a real small tmpfs (a full or read-only file system on demand)."""

from __future__ import annotations

import os
import subprocess

import pytest


class Tmpfs:
    """A tmpfs mounted on ``path`` (root only): ``fill()`` leaves it (almost) full,
    ``free()`` removes the filler, ``readonly()`` remounts it read-only."""

    def __init__(self, path, size: str):
        self.path = path
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       check=True, capture_output=True)
        self.filler = path / "filler"

    def fill(self, leave: int = 0) -> None:
        """Write a filler file until ENOSPC, then give back ``leave`` bytes (rounded to pages)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        if leave:
            size = os.path.getsize(self.filler)
            os.truncate(self.filler, max(0, size - leave))

    def free(self) -> None:
        if self.filler.exists():
            self.filler.unlink()

    def readonly(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True, capture_output=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):
    """tmpfs(size="64k") -> Tmpfs mounted under tmp_path, unmounted afterwards."""
    made = []

    def make(size: str = "64k", name: str = "fs") -> Tmpfs:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        fs = Tmpfs(tmp_path / name, size)
        made.append(fs)
        return fs

    yield make
    for fs in made:
        fs.unmount()
