"""Lab pieces that need no kernel build: cpio, GRUB disk, keys, QEMU command, benchmarks, CLI errors."""

from __future__ import annotations

import os
import pathlib
import re
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from fastpath.cli.main import main
from fastpath.lab import disk, initramfs, keys, qemu, vm
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


def _fake_bzimage(path: pathlib.Path, release: str) -> pathlib.Path:
    """Just enough of an x86 boot header for image_version: 'HdrS' and the version pointer."""
    head = bytearray(0x400)
    head[0x202:0x206] = b"HdrS"
    head[0x20E:0x210] = (0x100).to_bytes(2, "little")          # string at 0x200 + 0x100
    text = f"{release} (root@lab) #1 SMP Sun Nov 29 00:00:00 UTC 2026".encode()
    head[0x300:0x300 + len(text)] = text
    path.write_bytes(bytes(head))
    return path


def _debugfs(partition: pathlib.Path, request: str) -> str:
    return subprocess.run(["debugfs", "-R", request, str(partition)], capture_output=True,
                          text=True, check=True).stdout


def test_grub_disk_has_boot_code_a_partition_and_the_grub_tools(tmp_path):
    k = keys.ensure_keys(tmp_path)
    image = _fake_bzimage(tmp_path / "bzImage", "6.1.0-fake-lab")
    out = disk.build_grub_disk(tmp_path / "disk.img", kernel=image, authorized_key=k.client_pub,
                               host_key=k.host_key, size_mb=64)
    raw = out.read_bytes()
    boot_img = (disk.GRUB_PC / "boot.img").read_bytes()
    assert len(raw) == 64 << 20 and raw[510:512] == b"\x55\xaa" and raw[:440] == boot_img[:440]
    status, ptype, start, count = raw[446], raw[450], *struct.unpack_from("<II", raw, 454)
    assert (status, ptype, start, count) == (0x80, 0x83, 2048, (64 << 11) - 2048)
    assert raw[512:1024] != bytes(512)                  # core.img right after the MBR
    part = tmp_path / "part.img"
    part.write_bytes(raw[2048 * 512:])
    listing = _debugfs(part, "ls -p /boot")
    assert "/vmlinuz-6.1.0-fake-lab/" in listing and "/grub/" in listing
    cfg = _debugfs(part, "cat /boot/grub/grub.cfg")
    assert "linux /boot/vmlinuz-6.1.0-fake-lab root=/dev/vda1 ro console=ttyS0" in cfg
    assert 'set default="${next_entry}"' in cfg         # grub-reboot's one-shot works
    assert "next_entry" not in _debugfs(part, "cat /boot/grub/grubenv") and \
        _debugfs(part, "stat /boot/grub/grubenv").count("Size: 1024") == 1
    for path in ("/usr/sbin/grub-probe", "/usr/sbin/update-grub", "/usr/sbin/grub-reboot",
                 "/etc/grub.d/10_linux", "/boot/grub/i386-pc/ext2.mod", "/usr/sbin/dropbear",
                 "/usr/bin/fp-syscall", "/etc/init.d/rcS"):
        assert "Inode:" in _debugfs(part, f"stat {path}"), path
    assert _debugfs(part, "cat /etc/fstab").startswith("/dev/vda1 / ext2 ")


def test_qemu_boots_a_disk_through_the_firmware(tmp_path):
    cmd = qemu.command(accel="tcg", disk=tmp_path / "d.img", port=2345, serial_log=tmp_path / "s",
                       pidfile=tmp_path / "p", monitor=tmp_path / "m")
    assert f"file={tmp_path / 'd.img'},format=raw,if=virtio" in cmd and "-kernel" not in cmd


def test_grub_boot_takes_no_extra_cmdline(tmp_path, capsys):
    image = _fake_bzimage(tmp_path / "bzImage", "6.1.0-fake-lab")
    assert main(["lab", "up", "--boot", "grub", "--kernel", str(image), "--cmdline", "quiet",
                 "--home", str(tmp_path)]) == 1
    assert "GRUB_CMDLINE_LINUX" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_a_user_who_is_not_root_still_gets_root_owned_files_on_the_lab_disk():
    with tempfile.TemporaryDirectory(prefix="fastpath-nobody-") as tmp:   # pytest's is root-only
        tmp_path = pathlib.Path(tmp)
        tmp_path.chmod(0o777)
        _mke2fs_as_nobody(tmp_path)


def _mke2fs_as_nobody(tmp_path: pathlib.Path) -> None:
    staging = tmp_path / "s"
    (staging / "root/.ssh").mkdir(parents=True)
    (staging / "root/.ssh/authorized_keys").write_text("key")
    for path in (staging, staging / "root", staging / "root/.ssh", staging / "root/.ssh/authorized_keys"):
        os.chown(path, 65534, 65534)
    cmd = disk.ext2_command(staging, tmp_path / "img", offset=4096, size_kb=4096, root=False)
    subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd], check=True,
                   capture_output=True, cwd=tmp_path)
    assert (staging / "root/.ssh/authorized_keys").stat().st_uid == 65534
    part = tmp_path / "part"
    part.write_bytes((tmp_path / "img").read_bytes()[4096:])
    assert re.search(r"User:\s+0\s+Group:\s+0", _debugfs(part, "stat /root/.ssh/authorized_keys"))


def test_a_port_left_in_time_wait_by_a_stopped_vm_is_free_again_but_a_listener_is_not():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    assert vm._free_port(port) != port                 # QEMU still listens: taken
    conn.close()                                       # the VM side closes first: TIME_WAIT on port
    time.sleep(0.1)
    client.close()
    srv.close()
    assert vm._free_port(port) == port                 # power-cycle may take its port back
