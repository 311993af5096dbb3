"""A minimal writer for the cpio "newc" format the kernel unpacks as an initramfs."""

from __future__ import annotations

import stat

TRAILER = "TRAILER!!!"


class CpioWriter:
    """Collects entries (dirs, files, symlinks, device nodes) and serialises them in order.

    Parents are created automatically; adding a path twice keeps the last version.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, bytes, int]] = {}

    def _parents(self, path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in self._entries:
                self._entries[parent] = (stat.S_IFDIR | 0o755, b"", 0)

    def dir(self, path: str, mode: int = 0o755) -> None:
        self._parents(path)
        self._entries[path.strip("/")] = (stat.S_IFDIR | mode, b"", 0)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._parents(path)
        self._entries[path.strip("/")] = (stat.S_IFREG | mode, data, 0)

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        self._entries[path.strip("/")] = (stat.S_IFLNK | 0o777, target.encode(), 0)

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._parents(path)
        self._entries[path.strip("/")] = (stat.S_IFCHR | mode, b"", (major << 8) | minor)

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self._entries

    def to_bytes(self) -> bytes:
        out = bytearray()
        for ino, (name, (mode, data, rdev)) in enumerate(sorted(self._entries.items()), start=1):
            nlink = 2 if stat.S_ISDIR(mode) else 1
            out += _entry(name, ino, mode, nlink, data, rdev >> 8, rdev & 0xFF)
        out += _entry(TRAILER, 0, 0, 1, b"", 0, 0)
        return bytes(out)


def _pad(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def _entry(name: str, ino: int, mode: int, nlink: int, data: bytes, rmajor: int, rminor: int) -> bytes:
    encoded = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(encoded), 0]
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    return header + encoded + _pad(len(header) + len(encoded)) + data + _pad(len(data))
