"""Crash-safe file primitives for the CSV directory store.

- ``rewrite``: a whole table written to a temporary file, fsync'ed, then ``os.replace``d
  over the old one and the directory fsync'ed: a reader sees the old or the new file, never
  a half-written one.
- ``Appender``: one line (or a batch) appended with a single ``os.write`` on an O_APPEND
  descriptor, then fsync: when ``append`` returns, the data is on disk; when it fails, the
  file is cut back to where the append began.
- ``complete_size``: the length of a file up to its last newline. Anything after it is a
  torn line left by a writer that crashed mid-append (never acknowledged).
- ``DirLock``: an exclusive fcntl lock on ``DIR/.lock`` held by the one writer.
- ``Journal``: ``DIR/.transaction``, the sizes of the append-only files when a transaction
  began; while it exists, what lies beyond those sizes is uncommitted (readers stop there,
  the next writer cuts it away).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os

from fastpath.errors import StoreError


def format_rows(rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    return buf.getvalue()


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rewrite(path: str, header, rows) -> None:
    """Replace the table at ``path`` whole; on any failure (a full or read-only file system,
    an immutable file) the old file stays, no temporary file is left, and StoreError says
    why in one line."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(format_rows([header, *rows]))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(os.path.dirname(path))
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StoreError(f"cannot write {path}: {err.strerror}") from None


def complete_size(path: str) -> tuple[int, int]:
    """(size up to and including the last newline, total size)."""
    size = os.path.getsize(path)
    if size == 0:
        return 0, 0
    with open(path, "rb") as f:
        pos = size
        while pos > 0:
            start = max(0, pos - 65536)
            f.seek(start)
            chunk = f.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return start + nl + 1, size
            pos = start
    return 0, size


def read_text(path: str, limit: int) -> str:
    with open(path, "rb") as f:
        data = f.read(limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise StoreError(f"{path}:{line}: not UTF-8 text (corrupt file?)") from None


class Appender:
    """Appends to a file only this process writes (the store's DirLock). A failed append
    (ENOSPC mid-batch, EIO) is cut back to where it began, so the next append never lands
    after a torn line; if even that fails, every later append first retries the cut and is
    refused (OSError) until it succeeds."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self.cut_to: int | None = None      # size to truncate back to before the next append

    def append(self, text: str) -> None:
        if self.cut_to is not None:
            self._cut(self.cut_to)
        data = text.encode("utf-8")
        start = os.fstat(self.fd).st_size
        try:
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
            os.fsync(self.fd)
        except OSError:
            with contextlib.suppress(OSError):
                self._cut(start)            # on failure cut_to stays set: retried next time
            raise

    def _cut(self, size: int) -> None:
        self.cut_to = size
        os.ftruncate(self.fd, size)
        os.fsync(self.fd)
        self.cut_to = None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class DirLock:
    def __init__(self, directory: str, shown: str):
        self.path = os.path.join(directory, ".lock")
        self.file = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "?"
            self.file.close()
            raise StoreError(f"CSV store {shown} is in use by another writer (pid {holder} holds "
                             f"{self.path}); wait for it to finish or write to another store") from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(str(os.getpid()))
        self.file.flush()

    def release(self) -> None:
        if not self.file.closed:
            self.file.close()


class Journal:
    def __init__(self, directory: str):
        self.path = os.path.join(directory, ".transaction")

    def sizes(self) -> dict[str, int] | None:
        """{file name: committed size}, or None when no transaction is open."""
        try:
            with open(self.path, encoding="utf-8") as f:
                rows = list(csv.reader(f))[1:]
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StoreError(f"cannot read {self.path}: {err.strerror}") from None
        try:
            return {name: int(size) for name, size in rows}
        except ValueError:
            raise StoreError(f"{self.path}: not a transaction journal (corrupt store?)") from None

    def begin(self, directory: str, names) -> dict[str, int]:
        sizes = {n: os.path.getsize(os.path.join(directory, n)) for n in names}
        rewrite(self.path, ("file", "size"), sizes.items())
        return sizes

    def roll_back(self, directory: str, sizes: dict[str, int]) -> None:
        """Cut every file back to its committed size, then end the transaction."""
        try:
            for name, size in sizes.items():
                path = os.path.join(directory, name)
                if os.path.getsize(path) > size:
                    with open(path, "r+b") as f:
                        f.truncate(size)
                        os.fsync(f.fileno())
        except OSError as err:
            raise StoreError(f"cannot roll back {directory}: {err.strerror}") from None
        self.end()

    def end(self) -> None:
        try:
            os.unlink(self.path)
            fsync_dir(os.path.dirname(self.path))
        except FileNotFoundError:
            pass
        except OSError as err:
            raise StoreError(f"cannot end the transaction in {os.path.dirname(self.path)}: "
                             f"{err.strerror}") from None
