"""Lab pieces that need no kernel build: cpio, keys, QEMU command, benchmarks, CLI errors."""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

from fastpath.cli.main import main
from fastpath.lab import initramfs, keys, qemu, vm
from fastpath.lab.cpio import CpioWriter

pytestmark = pytest.mark.lab


def test_cpio_archive_unpacks_with_cpio(tmp_path):
    writer = CpioWriter()
    writer.file("/etc/hello", b"hi\n", 0o640)
    writer.symlink("/bin/sh", "busybox")
    writer.dir("/root/.ssh", 0o700)
    archive = tmp_path / "a.cpio"
    archive.write_bytes(writer.to_bytes())
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["cpio", "-idm", "--no-absolute-filenames", "-F", str(archive)], cwd=out,
                   check=True, capture_output=True)
    assert (out / "etc/hello").read_bytes() == b"hi\n"
    assert (out / "etc/hello").stat().st_mode & 0o777 == 0o640
    assert (out / "bin/sh").is_symlink() and str((out / "bin/sh").readlink()) == "busybox"
    assert (out / "root/.ssh").stat().st_mode & 0o777 == 0o700


def test_benchmarks_compile_and_print_the_contract_line(tmp_path):
    built = initramfs.compile_benchmarks(tmp_path)
    assert set(built) >= {"fp-syscall", "fp-pipe"}
    out = subprocess.run([built["fp-syscall"], "-n", "1000"], capture_output=True, text=True).stdout
    assert re.fullmatch(r"fp-syscall iterations=1000 ns_per_call=\d+\.\d\d\n", out)
    out = subprocess.run([built["fp-pipe"], "-n", "100"], capture_output=True, text=True).stdout
    assert re.fullmatch(r"fp-pipe roundtrips=100 us_per_roundtrip=\d+\.\d{3}\n", out)
    bad = subprocess.run([built["fp-syscall"], "-n", "x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "-n wants a positive integer" in bad.stderr


def test_keys_are_created_once_and_pinned(tmp_path):
    first = keys.ensure_keys(tmp_path)
    again = keys.ensure_keys(tmp_path)
    assert first == again and first.host_pub.startswith("ssh-ed25519 ")
    keys.pin_host_key(first, 2222)
    assert first.known_hosts.read_text() == f"[127.0.0.1]:2222 {first.host_pub}\n"


def test_initramfs_carries_the_lab_userspace(tmp_path):
    k = keys.ensure_keys(tmp_path)
    image = initramfs.build_initramfs(tmp_path / "i.cpio", authorized_key=k.client_pub,
                                      host_key=k.host_key, cmdline="console=ttyS0 x=1")
    listing = subprocess.run(["cpio", "-it", "-F", str(image)], capture_output=True, text=True).stdout.split()
    for path in ("init", "bin/busybox", "usr/sbin/dropbear", "usr/sbin/kexec", "usr/bin/sysbench",
                 "usr/bin/hackbench", "usr/bin/fp-syscall", "usr/bin/fp-pipe", "usr/lib/sftp-server",
                 "root/.ssh/authorized_keys", "boot/cmdline", "etc/inittab"):
        assert path in listing, path
    assert any(p.startswith("lib/x86_64-linux-gnu/libluajit") for p in listing)


def test_accel_choice_is_kvm_or_tcg():
    assert qemu.choose_accel("tcg") == "tcg"
    assert qemu.choose_accel("auto") in ("kvm", "tcg")


def test_qemu_forwards_ssh_to_loopback_only(tmp_path):
    cmd = qemu.command(accel="tcg", kernel=tmp_path / "k", initrd=tmp_path / "i", cmdline="console=ttyS0",
                       port=2345, serial_log=tmp_path / "s", pidfile=tmp_path / "p", monitor=tmp_path / "m")
    assert "user,id=net0,hostfwd=tcp:127.0.0.1:2345-:22" in cmd
    assert cmd[cmd.index("-smp") + 1] == "2" and cmd[cmd.index("-m") + 1] == "1024"


def test_status_and_down_when_nothing_runs(tmp_path, capsys):
    assert vm.status(tmp_path)["running"] is False
    assert main(["lab", "down", "--home", str(tmp_path)]) == 0
    assert "was not running" in capsys.readouterr().out


def test_up_without_a_kernel_is_one_line_error(tmp_path, capsys):
    assert main(["lab", "up", "--home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: no lab kernel at ") and len(err.strip().splitlines()) == 1


def test_power_cycle_before_up_is_one_line_error(tmp_path, capsys):
    assert main(["lab", "power-cycle", "--home", str(tmp_path)]) == 1
    assert "was never started" in capsys.readouterr().err


def test_kernel_into_non_empty_dir_is_refused(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert main(["lab", "kernel", str(tmp_path)]) == 1
    assert "not an empty directory" in capsys.readouterr().err
    assert (tmp_path / "x").read_text() == "keep me"


def test_culprit_without_history_is_one_line_error(tmp_path, capsys):
    assert main(["lab", "culprit", str(tmp_path)]) == 1
    assert "no lab history" in capsys.readouterr().err


def test_build_of_a_non_tree_is_one_line_error(tmp_path, capsys):
    assert main(["lab", "build", str(tmp_path)]) == 1
    assert "not a kernel tree" in capsys.readouterr().err
