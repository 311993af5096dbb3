"""The shared lab VM: SUT block, status, pinned host key, refusal of a second `up`."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
import yaml

from fastpath.cli.main import main
from fastpath.lab import vm

pytestmark = pytest.mark.lab


def test_sut_block_follows_the_contract(lab_vm, lab_sut):
    home = pathlib.Path(lab_vm.home)
    assert lab_sut == {"name": "fastpath-lab",
                       "connection": {"method": "SSH", "params": {
                           "host": "127.0.0.1", "port": lab_vm.port, "user": "root",
                           "keyfile": str(home / "id_ed25519"), "known_hosts": str(home / "known_hosts")}},
                       "power_cycle": f"fastpath lab power-cycle --home {home}"}
    assert yaml.safe_load((home / "sut.yaml").read_text()) == {"sut": lab_sut}


def test_status_reports_the_running_vm(lab_vm, capsys):
    assert main(["lab", "status", "--home", lab_vm.home]) == 0
    status = yaml.safe_load(capsys.readouterr().out)
    assert status["running"] is True and status["pid"] == lab_vm.pid and status["ssh"] == "answers"
    assert status["port"] == lab_vm.port and status["accel"] in ("kvm", "tcg")


def test_second_up_is_refused(lab_vm, capsys):
    assert main(["lab", "up", "--home", lab_vm.home]) == 1
    err = capsys.readouterr().err
    assert f"already running (pid {lab_vm.pid}, port {lab_vm.port}" in err


def test_host_key_is_checked_not_trusted(lab_vm, tmp_path, lab_ssh):
    assert lab_ssh(lab_vm, "id -u").stdout.strip() == "0"
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    cmd = lab_vm.ssh_command("true")
    cmd[cmd.index(f"UserKnownHostsFile={lab_vm.home}/known_hosts")] = f"UserKnownHostsFile={empty}"
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 255 and "Host key verification failed" in proc.stderr


def test_vm_has_the_lab_userspace(lab_vm, lab_ssh):
    out = lab_ssh(lab_vm, "nproc; cat /boot/cmdline; test -s /boot/initrd.img && echo initrd; "
                          "for p in dropbear kexec sysbench hackbench fp-syscall fp-pipe busybox; do "
                          "command -v $p >/dev/null || echo missing $p; done; "
                          "hackbench -g 2 -l 10 | grep Time; tar --help 2>&1 | grep -c xz").stdout
    assert out.splitlines()[:3] == ["2", vm.BASE_CMDLINE, "initrd"]
    assert "missing" not in out and "Time:" in out
