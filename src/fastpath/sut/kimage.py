"""What kernel a local image file holds: its release and build string, read from the file.

x86 bzImage: the setup header's ``kernel_version`` pointer. Other images (arm64 Image,
Image.gz): the ``Linux version ...`` banner inside the (decompressed) file. Used to prove
that the kernel running after a boot is the one deployed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import struct


@dataclasses.dataclass(frozen=True)
class ImageVersion:
    release: str        # what `uname -r` will print, e.g. "6.1.192-fastpath-lab"
    build: str          # what `uname -v` will print, e.g. "#63b617479d24 SMP Sat Nov 28 ..."

    def matches(self, uname_r: str, uname_v: str) -> bool:
        return uname_r.strip() == self.release and uname_v.strip() == self.build


def image_version(path: str) -> ImageVersion | None:
    """Release and build string of a kernel image, or None when they cannot be found."""
    with open(path, "rb") as f:
        head = f.read(0x4000)
        if head[0x202:0x206] == b"HdrS":
            (off,) = struct.unpack_from("<H", head, 0x20E)
            f.seek(0x200 + off)
            text = f.read(512).split(b"\0")[0].decode("ascii", "replace")
            return _split(text)
        f.seek(0)
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return None
    m = re.search(rb"Linux version ([^\0\n]+)", data)
    if not m:
        return None
    text = m.group(1).decode("ascii", "replace")
    # the banner has "(compiler, linker)" between the builder and the build string
    release = text.split()[0]
    build = text[text.index("#"):] if "#" in text else ""
    return ImageVersion(release, build.strip())


def _split(text: str) -> ImageVersion | None:
    parts = text.split()
    if not parts or "#" not in text:
        return None
    return ImageVersion(parts[0], text[text.index("#"):].strip())


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
