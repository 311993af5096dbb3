"""The lab VM: a QEMU SUT reached over SSH on a forwarded 127.0.0.1 port.

    up(kernel=None)     boot the VM (base kernel by default), wait until SSH answers
    up(boot="grub")     the same from a disk through GRUB (a SUT for ``boot_method: grub``)
    status()            what is running, on which port, and whether SSH answers
    down()              stop QEMU; no process is left behind
    power_cycle()       the lab's power-cycle hook: restart QEMU with the kernel `up` used

Runtime files live in ``<lab home>/vm/``; ``<lab home>/sut.yaml`` holds the SUT block a plan uses.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import shlex
import socket
import subprocess
import time

import yaml

from fastpath.errors import KernelBootError, SutTransientError, UserError
from fastpath.lab import qemu
from fastpath.lab.disk import ROOT_DEVICE, build_grub_disk
from fastpath.lab.home import lab_home, log, run
from fastpath.lab.initramfs import build_initramfs
from fastpath.lab.keys import ensure_keys, pin_host_key

BASE_CMDLINE = "console=ttyS0"


@dataclasses.dataclass
class LabVm:
    """A lab VM started by ``up`` (also what ``state.json`` holds)."""

    home: str
    pid: int
    port: int
    accel: str
    kernel: str
    initrd: str
    cmdline: str
    started: str            # ISO 8601 UTC
    boot_seconds: float     # QEMU start to SSH answering
    memory_mb: int = 1024
    cpus: int = 2
    boot: str = "kernel"    # "kernel": QEMU loads kernel + initramfs; "grub": BIOS, GRUB, disk
    disk: str = ""          # the raw disk image when boot == "grub"

    @property
    def vm_dir(self) -> pathlib.Path:
        return pathlib.Path(self.home) / "vm"

    @property
    def serial_log(self) -> pathlib.Path:
        return self.vm_dir / "serial.log"

    def connection(self) -> dict:
        """The ``connection`` mapping of a plan's ``sut``."""
        home = pathlib.Path(self.home)
        return {"method": "SSH", "params": {
            "host": "127.0.0.1", "port": self.port, "user": "root",
            "keyfile": str(home / "id_ed25519"), "known_hosts": str(home / "known_hosts")}}

    def sut(self) -> dict:
        """The SUT block of a plan: name, connection and the power-cycle hook."""
        hook = "fastpath lab power-cycle"
        if pathlib.Path(self.home) != lab_home(None):
            hook += f" --home {shlex.quote(self.home)}"
        sut = {"name": "fastpath-lab", "connection": self.connection(), "power_cycle": hook}
        if self.boot == "grub":
            sut["boot_method"] = "grub"
        return sut

    def bisect_flags(self) -> str:
        """The connection flags of `fastpath bisect start` for this VM, ready to paste: host,
        port, user, key, the known_hosts that pins the VM's key and the power-cycle hook."""
        params, sut = self.connection()["params"], self.sut()
        flags = [("--host", params["host"]), ("--port", params["port"]), ("--user", params["user"]),
                 ("--keyfile", params["keyfile"]), ("--known-hosts", params["known_hosts"]),
                 ("--power-cycle", sut["power_cycle"])]
        return " ".join(f"{flag} {shlex.quote(str(value))}" for flag, value in flags)

    def ssh_command(self, *remote: str) -> list[str]:
        """An OpenSSH command line that runs ``remote`` in the VM, host key checked."""
        params = self.connection()["params"]
        return ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={params['known_hosts']}", "-o", "IdentitiesOnly=yes",
                "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
                "-i", params["keyfile"], "-p", str(self.port),
                "root@127.0.0.1", *remote]


def _state_file(home: pathlib.Path) -> pathlib.Path:
    return home / "vm" / "state.json"


def _load(home: pathlib.Path) -> LabVm | None:
    path = _state_file(home)
    if not path.exists():
        return None
    return LabVm(**json.loads(path.read_text()))


def _save(vm: LabVm) -> None:
    _state_file(pathlib.Path(vm.home)).write_text(json.dumps(dataclasses.asdict(vm), indent=1) + "\n")
    sut_yaml = pathlib.Path(vm.home) / "sut.yaml"
    sut_yaml.write_text(yaml.safe_dump({"sut": vm.sut()}, sort_keys=False))


def _running(vm: LabVm | None) -> bool:
    return vm is not None and qemu.is_lab_qemu(vm.pid, vm.vm_dir / "qemu.pid")


def _free_port(preferred: int | None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            # as QEMU's port forwarding binds: connections of the stopped QEMU still in
            # TIME_WAIT on this port must not make it look taken (only a listener does)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise UserError("no free TCP port on 127.0.0.1 for the lab VM")


def ssh_answers(vm: LabVm) -> bool:
    """One attempt: does the VM accept our key and run a command?"""
    proc = subprocess.run(vm.ssh_command("true"), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=30)
    return proc.returncode == 0


def panic_line(vm: LabVm, offset: int = 0) -> str | None:
    """The 'Kernel panic' line the serial console shows after byte ``offset``, if any."""
    try:
        with open(vm.serial_log, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    return next((ln.strip() for ln in text.splitlines() if "Kernel panic - not syncing" in ln), None)


def wait_for_ssh(vm: LabVm, timeout: float, log_offset: int = 0) -> float:
    """Poll until SSH answers; return the seconds waited. QEMU dying, a kernel panic on the
    serial console (after ``log_offset``) or the deadline raise."""
    started = time.monotonic()
    while True:
        if not _running(vm):
            raise KernelBootError(f"lab VM: QEMU exited while booting; see {vm.serial_log}")
        panic = panic_line(vm, log_offset)
        if panic:
            raise KernelBootError(f"lab VM: kernel panicked while booting {vm.kernel}: {panic}")
        try:
            if ssh_answers(vm):
                return time.monotonic() - started
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() - started > timeout:
            tail = vm.serial_log.read_text(errors="replace").strip().splitlines()[-1:] if \
                vm.serial_log.exists() else []
            raise SutTransientError(f"lab VM: no SSH on 127.0.0.1:{vm.port} after {timeout:.0f} s "
                                    f"(last console line: {tail[0] if tail else 'none'}; log {vm.serial_log})")
        time.sleep(0.25)


def _start(vm: LabVm, timeout: float) -> LabVm:
    vm_dir = vm.vm_dir
    pidfile = vm_dir / "qemu.pid"
    pidfile.unlink(missing_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    offset = vm.serial_log.stat().st_size if vm.serial_log.exists() else 0
    with open(vm.serial_log, "a") as fh:
        fh.write(f"\n=== fastpath lab: QEMU start {stamp} kernel {vm.kernel} ({vm.accel}) ===\n")
    if vm.boot == "grub":
        boot = {"disk": pathlib.Path(vm.disk)}
    else:
        boot = {"kernel": pathlib.Path(vm.kernel), "initrd": pathlib.Path(vm.initrd), "cmdline": vm.cmdline}
    cmd = qemu.command(accel=vm.accel, port=vm.port, serial_log=vm.serial_log, pidfile=pidfile,
                       monitor=vm_dir / "monitor.sock", memory_mb=vm.memory_mb, cpus=vm.cpus, **boot)
    (vm_dir / "qemu.cmd").write_text(shlex.join(cmd) + "\n")
    began = time.monotonic()
    run(cmd, what=f"starting QEMU (see {vm_dir / 'qemu.cmd'})", error=KernelBootError)
    vm.pid = int(pidfile.read_text().strip())
    vm.started = stamp
    _save(vm)
    wait_for_ssh(vm, timeout, offset)
    vm.boot_seconds = round(time.monotonic() - began, 2)
    _save(vm)
    log.info("lab VM up: pid %d port %d (%s) in %.1f s", vm.pid, vm.port, vm.accel, vm.boot_seconds)
    return vm


def base_kernel(home: pathlib.Path) -> pathlib.Path:
    image = home / "base" / "bzImage"
    if not image.exists():
        raise UserError(f"no lab kernel at {image}: run `fastpath lab kernel DIR` first or pass {{kernel}}",
                        params=("kernel",))
    return image


def up(kernel: str | os.PathLike | None = None, *, home: str | os.PathLike | None = None,
       accel: str = "auto", timeout: float = 300.0, cmdline: str = "", memory_mb: int = 1024,
       cpus: int = 2, boot: str = "kernel") -> LabVm:
    """Boot the lab VM and wait until SSH answers; write ``<home>/sut.yaml``; return the VM.

    ``boot="kernel"`` (default): QEMU loads the kernel and the lab initramfs directly.
    ``boot="grub"``: a fresh disk image (``disk.build_grub_disk``) with the kernel installed as
    the distribution's default entry; the BIOS boots GRUB from it, and the SUT block says
    ``boot_method: grub``. ``cmdline`` applies to ``kernel`` boots only (GRUB's comes from
    /etc/default/grub in the VM)."""
    if boot not in ("kernel", "grub"):
        raise UserError(f"{{boot}}: expected kernel or grub, got {boot!r}", params=("boot",))
    if boot == "grub" and cmdline:
        raise UserError("{cmdline} applies to {boot} kernel only; the GRUB disk's command line "
                        "is GRUB_CMDLINE_LINUX in /etc/default/grub in the VM", params=("cmdline", "boot"))
    home = lab_home(home)
    old = _load(home)
    if _running(old):
        raise UserError(f"lab VM already running (pid {old.pid}, port {old.port}, home {home}); "
                        f"run `fastpath lab down` first")
    image = pathlib.Path(kernel).expanduser().resolve() if kernel else base_kernel(home)
    if not image.is_file():
        raise UserError(f"{{kernel}} {image}: no such file", params=("kernel",))
    keys = ensure_keys(home)
    port = _free_port(old.port if old else None)
    pin_host_key(keys, port)
    if boot == "grub":
        disk_image = build_grub_disk(home / "vm" / "disk.img", kernel=image,
                                     authorized_key=keys.client_pub, host_key=keys.host_key)
        initrd, full_cmdline = "", f"root={ROOT_DEVICE} ro console=ttyS0"
    else:
        disk_image = ""
        full_cmdline = " ".join([BASE_CMDLINE, cmdline]).strip()
        initrd = build_initramfs(home / "vm" / "initramfs.cpio", authorized_key=keys.client_pub,
                                 host_key=keys.host_key, cmdline=full_cmdline)
    vm = LabVm(home=str(home), pid=0, port=port, accel=qemu.choose_accel(accel), kernel=str(image),
               initrd=str(initrd), cmdline=full_cmdline, started="", boot_seconds=0.0,
               memory_mb=memory_mb, cpus=cpus, boot=boot, disk=str(disk_image))
    try:
        return _start(vm, timeout)
    except BaseException:
        if _running(vm):
            qemu.stop(vm.pid, vm.vm_dir / "qemu.pid")
        raise


def status(home: str | os.PathLike | None = None) -> dict:
    """State of the lab VM: running or not, pid, port, accel, kernel, and whether SSH answers."""
    home = lab_home(home)
    vm = _load(home)
    if not _running(vm):
        return {"running": False, "home": str(home)}
    try:
        answers = ssh_answers(vm)
    except subprocess.TimeoutExpired:
        answers = False
    return {"running": True, "home": str(home), "pid": vm.pid, "port": vm.port, "accel": vm.accel,
            "boot": vm.boot, "kernel": vm.kernel, "started": vm.started, "ssh": "answers" if answers else "no answer",
            "serial_log": str(vm.serial_log), "sut_yaml": str(home / "sut.yaml")}


def is_running(home: str | os.PathLike | None = None) -> bool:
    """Whether the lab VM of ``home`` runs (its QEMU process; SSH is not asked)."""
    return _running(_load(lab_home(home)))


def current(home: str | os.PathLike | None = None) -> LabVm:
    """The running lab VM; UserError if none."""
    vm = _load(lab_home(home))
    if not _running(vm):
        raise UserError(f"no lab VM running (home {lab_home(home)}); run `fastpath lab up`")
    return vm


def down(home: str | os.PathLike | None = None) -> bool:
    """Stop the lab VM; return True if one was running. No QEMU process is left behind."""
    home = lab_home(home)
    vm = _load(home)
    if not _running(vm):
        return False
    qemu.stop(vm.pid, vm.vm_dir / "qemu.pid")
    return True


def power_cycle(home: str | os.PathLike | None = None, timeout: float = 300.0) -> LabVm:
    """The power-cycle hook: stop QEMU (whatever state the guest is in), start it again with the
    kernel, initramfs, port and keys of the last `up`, and wait for SSH."""
    home = lab_home(home)
    vm = _load(home)
    if vm is None:
        raise UserError(f"lab VM was never started in {home}; run `fastpath lab up`")
    if _running(vm):
        qemu.stop(vm.pid, vm.vm_dir / "qemu.pid")
    if _free_port(vm.port) != vm.port:
        raise SutTransientError(f"lab VM: port {vm.port} is taken by another process; cannot power-cycle")
    return _start(vm, timeout)
