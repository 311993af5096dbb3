"""Writing a file the user named (`result export -o PATH`, the bisection context).

What is at PATH decides how it is written:

- nothing, or a regular file (also through a symlink, which stays a symlink: its target is
  written): a temporary file beside the target, fsync'ed, renamed over it, so the file is
  whole or absent, never half-written. A new file gets the mode the user's umask gives
  (0666 minus umask); a replaced file keeps its mode (and owner, where allowed). A hard
  link to the old file keeps the old content.
- a FIFO or a character device (`-o /dev/stdout`, `-o >(gzip > x.gz)`, `/dev/null`):
  written in place as a stream; a write error (`/dev/full`: no space left) fails. A stream
  cannot be taken back, so a reader may have seen part of the output.
- anything else (a directory, a block device, a socket): refused, never replaced.

Every failure is one UserError: ``<label>: cannot write: <reason>``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from typing import TextIO

from fastpath.errors import UserError


@contextlib.contextmanager
def write_text(path: str | os.PathLike, label: str | None = None) -> Iterator[TextIO]:
    """Open ``path`` for text output (UTF-8, no newline translation); the content is in
    place when the block ends without an error."""
    path = os.fspath(path)
    label = label or path

    def fail(reason) -> UserError:
        return UserError(f"{label}: cannot write: {reason}")

    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise fail(err.strerror or err) from None
    if st is not None and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        cm = _stream(path, fail)
    elif st is None or stat.S_ISREG(st.st_mode):
        cm = _replace(path, st, fail)
    else:
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file, FIFO or character device"
        raise fail(f"is {kind}")
    with cm as fh:
        yield fh


@contextlib.contextmanager
def _stream(path: str, fail) -> Iterator[TextIO]:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)     # no O_CREAT, no O_TRUNC: it exists
        if not (stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISCHR(os.fstat(fd).st_mode)):
            os.close(fd)
            raise fail("changed while it was opened")
        fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
    except OSError as err:
        raise fail(err.strerror or err) from None
    try:
        with fh:
            yield fh
    except OSError as err:
        raise fail(err.strerror or err) from None


@contextlib.contextmanager
def _replace(path: str, st: os.stat_result | None, fail) -> Iterator[TextIO]:
    target = os.path.realpath(path)              # a symlink's target is written, the link kept
    directory, name = os.path.split(target)
    tmp = None
    try:
        for _ in range(100):
            candidate = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask applies
                tmp = candidate
                break
            except FileExistsError:
                continue
        else:
            raise fail(f"no free temporary name in {directory}")
        if st is not None:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            with contextlib.suppress(OSError):
                os.fchown(fd, st.st_uid, st.st_gid)
        fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
    except OSError as err:
        _unlink(tmp)
        raise fail(err.strerror or err) from None
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as err:
        _unlink(tmp)
        raise fail(err.strerror or err) from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(tmp: str | None) -> None:
    if tmp:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
