"""A lab disk that boots through GRUB: the SUT for ``boot_method: grub``.

The VM boots like a PC with a distribution installed: the BIOS runs GRUB from the disk's
boot sector, GRUB reads ``/boot/grub/grub.cfg`` from an ext2 root partition and boots the base
kernel with ``root=/dev/vda1``. The root holds the lab userspace (the same programs as the
initramfs) plus Debian's GRUB tools (``update-grub``/``grub-mkconfig`` with ``/etc/grub.d``,
``grub-probe``, ``grub-editenv``, ``grub-reboot``), so ``grub-reboot`` works in the VM as on a
real machine.

Built without root privileges, loop devices or mounting:

    sector 0          GRUB's boot.img (first 440 bytes) + an MBR partition table
    sectors 1..2047   GRUB's core.img (``grub-mkimage -O i386-pc``: biosdisk, part_msdos, ext2)
    sector 2048..     partition 1, ext2, written by ``mke2fs -d STAGING -E offset=...``

boot.img loads sector 1 by default and core.img's first sector loads the rest from the sectors
after it, which is where it is written, so no ``grub-bios-setup`` patching is needed.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import struct
import tempfile

from fastpath.errors import UserError
from fastpath.lab.home import log, run
from fastpath.lab.initramfs import add_program, find_program, populate
from fastpath.sut.kimage import image_version

SECTOR = 512
PART_START = 2048                     # sectors: partition 1 starts at 1 MiB, as fdisk does
DISK_MB = 512
GRUB_PC = pathlib.Path("/usr/lib/grub/i386-pc")
PACKAGES = "grub-common grub2-common grub-pc-bin e2fsprogs"
ROOT_DEVICE = "/dev/vda1"             # virtio-blk, first disk, first partition
CORE_MODULES = ["biosdisk", "part_msdos", "ext2"]

# (path in the VM, host program): GRUB's binaries, copied with their libraries.
GRUB_PROGRAMS = [
    ("/usr/sbin/grub-probe", "grub-probe"),
    ("/usr/bin/grub-editenv", "grub-editenv"),
    ("/usr/bin/grub-mkrelpath", "grub-mkrelpath"),
    ("/usr/bin/grub-script-check", "grub-script-check"),
    ("/usr/bin/grub-file", "grub-file"),
]
# GRUB's shell scripts and their data, copied as they are.
GRUB_FILES = [
    "/usr/sbin/grub-mkconfig", "/usr/sbin/update-grub", "/usr/sbin/grub-reboot",
    "/usr/sbin/grub-set-default", "/usr/share/grub/grub-mkconfig_lib",
    "/etc/grub.d/00_header", "/etc/grub.d/10_linux", "/etc/grub.d/40_custom",
    "/etc/grub.d/41_custom",
]

DEFAULT_GRUB = f"""\
# /etc/default/grub of the fastpath lab VM (read by update-grub)
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=fastpath-lab
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_LINUX_UUID=true
GRUB_DISABLE_RECOVERY=true
GRUB_DISABLE_OS_PROBER=true
"""

# What the disk's grub.cfg says before anything runs update-grub in the VM: the same shape
# grub-mkconfig gives (one-shot next_entry handling included), one entry for the base kernel.
INITIAL_GRUB_CFG = """\
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
if [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${{next_entry}}" ] ; then
   set default="${{next_entry}}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi
set timeout=0
insmod part_msdos
insmod ext2
set root='hd0,msdos1'
menuentry 'fastpath-lab, Linux {release}' --id 'gnulinux-{release}' {{
  linux /boot/vmlinuz-{release} root={root} ro console=ttyS0
}}
"""

FSTAB = f"{ROOT_DEVICE} / ext2 rw,errors=remount-ro 0 1\n"


class DirWriter:
    """The CpioWriter interface over a real directory (what ``mke2fs -d`` copies)."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root

    def _path(self, path: str) -> pathlib.Path:
        target = self.root / path.strip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def dir(self, path: str, mode: int = 0o755) -> None:
        target = self._path(path)
        target.mkdir(exist_ok=True)
        target.chmod(mode)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        target = self._path(path)
        if target.is_symlink():
            target.unlink()
        target.write_bytes(data)
        target.chmod(mode)

    def symlink(self, path: str, target: str) -> None:
        link = self._path(path)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        try:
            os.mknod(self._path(path), mode | 0o020000, os.makedev(major, minor))
        except PermissionError:
            pass       # not root: the kernel's devtmpfs provides the node at boot anyway

    def __contains__(self, path: str) -> bool:
        return (self.root / path.strip("/")).exists()


def _need(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        raise UserError(f"the GRUB lab disk needs {path}, which is not installed "
                        f"(Debian packages: {PACKAGES})")
    return path


def _add_grub(root: DirWriter, release: str) -> None:
    for vm_path, program in GRUB_PROGRAMS:
        add_program(root, vm_path, find_program(program))
    for path in GRUB_FILES:
        host = _need(pathlib.Path(path))
        root.file(path, host.read_bytes(), 0o755 if os.access(host, os.X_OK) else 0o644)
    root.file("/etc/default/grub", DEFAULT_GRUB.encode())
    root.file("/etc/fstab", FSTAB.encode())
    mods = root.root / "boot/grub/i386-pc"
    mods.mkdir(parents=True, exist_ok=True)
    for item in sorted(_need(GRUB_PC).iterdir()):
        if item.suffix in (".mod", ".lst"):
            shutil.copyfile(item, mods / item.name)
    root.file("/boot/grub/grub.cfg", INITIAL_GRUB_CFG.format(release=release, root=ROOT_DEVICE).encode())
    run(["grub-editenv", str(root.root / "boot/grub/grubenv"), "create"], what="grub-editenv create")


def _mbr(boot_img: bytes, total_sectors: int) -> bytes:
    """boot.img's code (440 bytes), a disk signature, one bootable Linux partition, 0x55AA."""
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff",
                        PART_START, total_sectors - PART_START)
    return (boot_img[:440] + b"fpLb" + b"\0\0" + entry + b"\0" * 48 + b"\x55\xaa")


def ext2_command(staging: pathlib.Path, image: pathlib.Path, *, offset: int, size_kb: int,
                 root: bool) -> list[str]:
    """``mke2fs`` making an ext2 file system of ``staging``'s files at byte ``offset`` of
    ``image``, every file owned by root. ``mke2fs -d`` copies owners, so a user who is not
    ``root`` runs it in a user namespace where their own uid is 0 (dropbear refuses an
    authorized_keys owned by another user)."""
    cmd = ["mke2fs", "-q", "-F", "-t", "ext2", "-L", "fastpath-root", "-d", str(staging),
           "-E", f"offset={offset}", str(image), f"{size_kb}k"]
    return cmd if root else ["unshare", "--map-root-user", *cmd]


def build_grub_disk(out: str | os.PathLike, *, kernel: pathlib.Path, authorized_key: str,
                    host_key: pathlib.Path, size_mb: int = DISK_MB) -> pathlib.Path:
    """Write a raw disk image that boots ``kernel`` through GRUB with the lab userspace on an
    ext2 root; return its path. The kernel needs virtio-blk, MSDOS partitions and ext2 built in."""
    out = pathlib.Path(out)
    version = image_version(str(kernel))
    if version is None:
        raise UserError(f"{kernel}: cannot read the kernel release from the image")
    boot_img = _need(GRUB_PC / "boot.img").read_bytes()
    total = size_mb * 1024 * 1024 // SECTOR
    with tempfile.TemporaryDirectory(prefix="fastpath-disk-") as tmp:
        staging = pathlib.Path(tmp, "root")
        root = DirWriter(staging)
        populate(root, authorized_key=authorized_key, host_key=host_key)
        root.file(f"/boot/vmlinuz-{version.release}", kernel.read_bytes())
        _add_grub(root, version.release)
        core = pathlib.Path(tmp, "core.img")
        run(["grub-mkimage", "-O", "i386-pc", "-d", str(GRUB_PC), "-o", str(core),
             "-p", "(hd0,msdos1)/boot/grub", *CORE_MODULES], what="grub-mkimage")
        core_bytes = core.read_bytes()
        if len(core_bytes) > (PART_START - 1) * SECTOR:
            raise UserError(f"GRUB core image is {len(core_bytes)} bytes: too big for the MBR gap")
        tmp_out = out.with_suffix(".tmp")
        with open(tmp_out, "wb") as fh:
            fh.truncate(total * SECTOR)
            fh.write(_mbr(boot_img, total))
            fh.seek(SECTOR)
            fh.write(core_bytes)
        run(ext2_command(staging, tmp_out, offset=PART_START * SECTOR, root=os.geteuid() == 0,
                         size_kb=(total - PART_START) * SECTOR // 1024),
            what="mke2fs (the lab disk's root file system)")
        tmp_out.replace(out)
    log.info("GRUB lab disk %s: %d MiB, base kernel %s", out, size_mb, version.release)
    return out
