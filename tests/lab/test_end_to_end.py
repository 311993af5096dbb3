"""End to end: build, boot, SSH in, benchmark, build a changed kernel, scp + kexec, power-cycle."""

from __future__ import annotations

import pathlib
import re
import subprocess
import time

import pytest

from fastpath.cli.main import main
from fastpath.lab import kernel, vm
from fastpath.lab.home import git
from tests.fixtures.lab import run_ssh

pytestmark = pytest.mark.lab


def qemu_pids_for(home: pathlib.Path) -> list[int]:
    """Live processes whose command line mentions this lab home (QEMU or anything else)."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(home).encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def wait_for_kernel(lab: vm.LabVm, build_version: str, timeout: float = 180) -> str:
    """Poll until `uname -v` in the VM starts with '#<build_version> '; return it."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        try:
            proc = run_ssh(lab, "uname -v", check=False, timeout=30)
        except subprocess.TimeoutExpired:      # the guest went away mid-handshake (kexec)
            continue
        seen = proc.stdout.strip()
        if proc.returncode == 0 and seen.startswith(f"#{build_version} "):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"kernel #{build_version} did not come up; last uname -v: {seen!r}")


def test_build_boot_benchmark_kexec_power_cycle(lab_tree, lab_kernel, tmp_path):
    home = tmp_path / "lab"
    lab = vm.up(lab_kernel.image, home=home)
    try:
        # The base kernel runs, reached by OpenSSH with the pinned host key.
        assert run_ssh(lab, "uname -v").stdout.startswith(f"#{lab_kernel.gitsha[:12]} ")
        known = (home / "known_hosts").read_text()
        assert known.startswith(f"[127.0.0.1]:{lab.port} ssh-ed25519 ")
        assert (home / "sut.yaml").read_text().count(f"port: {lab.port}") == 1

        out = run_ssh(lab, "fp-syscall -n 200000; fp-pipe -n 2000; "
                           "sysbench threads --threads=2 --time=2 run").stdout
        ns = float(re.search(r"fp-syscall iterations=200000 ns_per_call=([\d.]+)", out).group(1))
        assert ns > 1
        assert re.search(r"fp-pipe roundtrips=2000 us_per_roundtrip=[\d.]+", out)
        assert int(re.search(r"total number of events:\s+(\d+)", out).group(1)) > 0

        # A changed tree: one commit on a branch, rebuilt incrementally.
        git(lab_tree, "checkout", "-q", "-B", "e2e-change", kernel.BASE_TAG)
        sys_c = lab_tree / "kernel/sys.c"
        sys_c.write_text(sys_c.read_text().replace("SYSCALL_DEFINE0(getppid)\n",
                                                   "/* e2e: a change */\nSYSCALL_DEFINE0(getppid)\n", 1))
        git(lab_tree, "commit", "-q", "-a", "-m", "e2e: change kernel/sys.c")
        changed = kernel.build(lab_tree, output=tmp_path / "changed")
        assert changed.gitsha != lab_kernel.gitsha and changed.image.stat().st_size > 1_000_000

        # Copy it over SSH (scp, host key checked) and kexec into it.
        params = lab.connection()["params"]
        subprocess.run(["scp", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                        "-o", f"UserKnownHostsFile={params['known_hosts']}", "-i", params["keyfile"],
                        "-P", str(lab.port), str(changed.image), "root@127.0.0.1:/boot/vmlinuz-e2e"],
                       check=True, capture_output=True, timeout=120)
        boot_id = run_ssh(lab, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
        run_ssh(lab, 'kexec -l /boot/vmlinuz-e2e --initrd=/boot/initrd.img '
                     '--append="$(cat /boot/cmdline) fastpath.e2e=1" && { (sleep 1; kexec -e) >/dev/null 2>&1 & }')
        wait_for_kernel(lab, changed.gitsha[:12])
        assert run_ssh(lab, "cat /proc/sys/kernel/random/boot_id").stdout.strip() != boot_id
        assert "fastpath.e2e=1" in run_ssh(lab, "cat /proc/cmdline").stdout
        assert "fp-syscall iterations=1000" in run_ssh(lab, "fp-syscall -n 1000").stdout

        # The power-cycle hook brings back the base kernel, same port, same pinned key.
        assert main(["lab", "power-cycle", "--home", str(home)]) == 0
        wait_for_kernel(lab, lab_kernel.gitsha[:12], timeout=30)
    finally:
        vm.down(home)
        kernel_tree_reset(lab_tree)
    assert qemu_pids_for(home) == []
    assert main(["lab", "status", "--home", str(home)]) == 0


def kernel_tree_reset(tree: pathlib.Path) -> None:
    git(tree, "checkout", "-q", "-f", "--detach", kernel.BASE_TAG)
