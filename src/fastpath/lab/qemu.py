"""QEMU for the lab: accelerator detection by trying, the command line, process checks."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

from fastpath.errors import SutStableError, UserError
from fastpath.lab.home import log

QEMU = "qemu-system-x86_64"

# A boot sector that makes 20000 port writes (each one a VM exit under KVM), then prints "K"
# on the serial port and halts. It tells a working KVM from one that is present but slow
# (nested virtualisation with expensive exits), where TCG is the faster choice.
_PROBE = bytes([0xB9, 0x20, 0x4E,            # mov cx, 20000
                0xE6, 0x80,                  # out 0x80, al
                0xE2, 0xFC,                  # loop (back to out)
                0xBA, 0xF8, 0x03,            # mov dx, 0x3f8
                0xB0, 0x4B, 0xEE,            # mov al, 'K'; out dx, al
                0xF4, 0xEB, 0xFD])           # hlt; jmp hlt


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if not path:
        raise UserError(f"{QEMU} not found; install the Debian package qemu-system-x86")
    return path


def _probe_seconds(accel: str, limit: float = 10.0) -> float | None:
    """Seconds for the probe guest to print under ``accel``; None if it fails or times out."""
    with tempfile.TemporaryDirectory(prefix="fastpath-probe-") as tmp:
        disk, serial = pathlib.Path(tmp, "boot.bin"), pathlib.Path(tmp, "serial.txt")
        disk.write_bytes(_PROBE + b"\0" * (510 - len(_PROBE)) + b"\x55\xaa")
        cmd = [qemu_binary(), "-accel", accel, "-display", "none", "-nodefaults", "-no-user-config",
               "-m", "16", "-serial", f"file:{serial}",
               "-drive", f"file={disk},format=raw,if=floppy,snapshot=on"]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.monotonic() - started < limit and proc.poll() is None:
                if serial.exists() and b"K" in serial.read_bytes():
                    return time.monotonic() - started
                time.sleep(0.02)
            return None
        finally:
            proc.kill()
            proc.wait()


def choose_accel(requested: str = "auto") -> str:
    """``kvm`` or ``tcg``. ``auto`` tries KVM and keeps it only when it beats TCG on the probe."""
    if requested in ("kvm", "tcg"):
        return requested
    if requested != "auto":
        raise UserError(f"{{accel}}: expected auto, kvm or tcg, got {requested!r}", params=("accel",))
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        log.info("accel: /dev/kvm not usable, using tcg")
        return "tcg"
    tcg = _probe_seconds("tcg")
    kvm = _probe_seconds("kvm", limit=2 * (tcg or 5.0) + 0.5)
    log.info("accel probe: kvm %s s, tcg %s s", kvm, tcg)
    return "kvm" if kvm is not None and (tcg is None or kvm <= tcg) else "tcg"


def command(*, accel: str, port: int, serial_log: pathlib.Path, pidfile: pathlib.Path,
            monitor: pathlib.Path, kernel: pathlib.Path | None = None, initrd: pathlib.Path | None = None,
            cmdline: str = "", disk: pathlib.Path | None = None, memory_mb: int = 1024,
            cpus: int = 2) -> list[str]:
    """The QEMU command line of the lab VM (daemonized, serial console appended to a file).

    Either QEMU loads ``kernel`` and ``initrd`` itself, or the firmware boots ``disk`` (raw,
    virtio-blk), which is how the GRUB lab disk starts."""
    cpu = ["-cpu", "host"] if accel == "kvm" else []
    if disk is not None:
        boot = ["-drive", f"file={disk},format=raw,if=virtio"]
    else:
        boot = ["-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline]
    return [qemu_binary(), "-name", "fastpath-lab", "-accel", accel, *cpu,
            "-m", str(memory_mb), "-smp", str(cpus), *boot,
            "-display", "none", "-nodefaults", "-no-user-config",
            "-chardev", f"file,id=serial0,path={serial_log},append=on", "-serial", "chardev:serial0",
            "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", "virtio-net-pci,netdev=net0", "-device", "virtio-rng-pci",
            "-monitor", f"unix:{monitor},server=on,wait=off",
            "-pidfile", str(pidfile), "-daemonize"]


def is_lab_qemu(pid: int, marker: pathlib.Path) -> bool:
    """True if ``pid`` is a live QEMU whose command line names ``marker`` (our pid file)."""
    try:
        args = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(QEMU.encode() in a for a in args[:1]) and str(marker).encode() in args


def stop(pid: int, marker: pathlib.Path, grace: float = 10.0) -> None:
    """Terminate the lab QEMU ``pid`` and wait until it is gone (SIGKILL after ``grace``)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not is_lab_qemu(pid, marker):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_lab_qemu(pid, marker):
                return
            time.sleep(0.05)
    raise SutStableError(f"QEMU pid {pid} did not exit after SIGKILL")
