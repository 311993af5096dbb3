"""The lab VM's initramfs: busybox, dropbear, kexec, sysbench, hackbench, the fp-* benchmarks.

Dynamically linked programs are copied from the host with the libraries ``ldd`` lists, so the
VM runs the same userspace as the host. The archive is an uncompressed cpio (fast to unpack
under TCG); the VM's init keeps a copy at /boot/initrd.img for kexec.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import tempfile

from fastpath.errors import BuildError, UserError
from fastpath.lab.cpio import CpioWriter
from fastpath.lab.home import BENCH_SRC, FILES, log, run

# (path in the VM, host program name or path). Found with shutil.which or as given.
PROGRAMS = [
    ("/usr/sbin/dropbear", "dropbear"),
    ("/usr/sbin/kexec", "kexec"),
    ("/usr/bin/sysbench", "sysbench"),
    ("/usr/bin/hackbench", "hackbench"),
    ("/usr/lib/sftp-server", "/usr/lib/openssh/sftp-server"),   # where dropbear looks for it
]
PACKAGES = "busybox-static dropbear-bin kexec-tools sysbench rt-tests openssh-sftp-server"
HOST_KEY_VM_PATH = "/etc/dropbear/dropbear_ed25519_host_key"


def find_program(program: str) -> pathlib.Path:
    path = program if program.startswith("/") else shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not path or not os.path.exists(path):
        raise UserError(f"lab VM needs {program!r}, which is not installed (Debian packages: {PACKAGES})")
    return pathlib.Path(path)


def shared_libs(binary: pathlib.Path) -> list[str]:
    """Absolute paths of the shared libraries (and loader) ``binary`` needs, per ldd."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if proc.returncode != 0 and "not a dynamic executable" in proc.stdout + proc.stderr:
        return []
    libs = []
    for line in proc.stdout.splitlines():
        if "not found" in line:
            raise UserError(f"{binary}: shared library missing on this host: {line.strip()}")
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            libs.append(match.group(1))
    return libs


def compile_benchmarks(out: pathlib.Path, sources: pathlib.Path = BENCH_SRC) -> dict[str, pathlib.Path]:
    """Compile every src/fastpath/benchmarks/src/<name>.c statically; return {name: binary}."""
    built = {}
    for src in sorted(sources.glob("*.c")):
        binary = out / src.stem
        run(["gcc", "-O2", "-Wall", "-static", "-o", str(binary), str(src)],
            what=f"compiling {src}", error=BuildError)
        built[src.stem] = binary
    if not built:
        raise BuildError(f"no benchmark sources in {sources}")
    return built


def _add_busybox(cpio: CpioWriter) -> None:
    busybox = find_program("busybox")
    if shared_libs(busybox):
        raise UserError(f"{busybox} is not static; install busybox-static")
    cpio.file("/bin/busybox", busybox.read_bytes(), 0o755)
    applets = run([str(busybox), "--list-full"], what="busybox --list-full").split()
    for applet in applets:
        if "/" + applet != "/bin/busybox":
            cpio.symlink("/" + applet, "/bin/busybox")
    cpio.symlink("/init", "/bin/busybox")          # busybox runs as init (reads /etc/inittab)


def add_program(cpio: CpioWriter, vm_path: str, host: pathlib.Path) -> None:
    cpio.file(vm_path, host.read_bytes(), 0o755)
    for lib in shared_libs(host):
        if lib not in cpio:
            cpio.file(lib, pathlib.Path(lib).read_bytes(), 0o755)


def _add_skeleton(cpio: CpioWriter) -> None:
    root = FILES / "rootfs"
    for path in sorted(root.rglob("*")):
        vm_path = "/" + str(path.relative_to(root))
        if path.is_dir():
            cpio.dir(vm_path)
        else:
            cpio.file(vm_path, path.read_bytes(), 0o755 if os.access(path, os.X_OK) else 0o644)
    for d in ("/proc", "/sys", "/dev", "/dev/pts", "/run", "/boot", "/lib/modules", "/var/log", "/mnt"):
        cpio.dir(d)
    cpio.dir("/tmp", 0o1777)
    cpio.chardev("/dev/console", 5, 1)
    cpio.chardev("/dev/null", 1, 3, 0o666)


def populate(root, *, authorized_key: str, host_key: pathlib.Path) -> None:
    """Write the lab userspace (busybox, dropbear, kexec, the benchmarks, the keys) into
    ``root``: a CpioWriter, or anything with its ``dir``/``file``/``symlink``/``chardev``."""
    _add_skeleton(root)
    _add_busybox(root)
    for vm_path, program in PROGRAMS:
        add_program(root, vm_path, find_program(program))
    root.symlink("/usr/bin/kexec", "/usr/sbin/kexec")
    with tempfile.TemporaryDirectory(prefix="fastpath-bench-") as tmp:
        for name, binary in compile_benchmarks(pathlib.Path(tmp)).items():
            root.file(f"/usr/bin/{name}", binary.read_bytes(), 0o755)
    root.dir("/root", 0o700)
    root.dir("/root/.ssh", 0o700)
    root.file("/root/.ssh/authorized_keys", authorized_key.strip().encode() + b"\n", 0o600)
    root.dir("/etc/dropbear", 0o700)
    root.file(HOST_KEY_VM_PATH, host_key.read_bytes(), 0o600)


def build_initramfs(out: str | os.PathLike, *, authorized_key: str, host_key: pathlib.Path,
                    cmdline: str) -> pathlib.Path:
    """Write the VM's initramfs (uncompressed newc cpio) to ``out``; return its path."""
    out = pathlib.Path(out)
    cpio = CpioWriter()
    populate(cpio, authorized_key=authorized_key, host_key=host_key)
    cpio.file("/boot/cmdline", cmdline.strip().encode() + b"\n")
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_bytes(cpio.to_bytes())
    tmp_out.replace(out)
    log.info("initramfs %s: %d bytes", out, out.stat().st_size)
    return out
