"""Fingerprint over real SSH: the sshd runs on this host, so the answer is known locally."""

from __future__ import annotations

import os
import platform
import socket

import pytest
import yaml

from fastpath.cli.main import main
from fastpath.errors import SutStableError
from fastpath.sut import fingerprint
from fastpath.sut.fingerprint import parse
from fastpath.sut.machine import BROKEN, OFF, SHELL, SutMachine
from fastpath.sut.transport import Transport
from fastpath.plan.model import SutSpec, SwProfileSpec


def test_fingerprint_matches_this_host(sshd_conn):
    with Transport(sshd_conn) as t:
        fp = fingerprint(t)
    assert fp.hw["host_name"] == socket.gethostname()
    assert fp.hw["architecture"] == platform.machine()
    assert fp.hw["cpu_count"] == os.cpu_count()
    assert fp.hw["memory"] == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert fp.hw["numa_nodes"] >= 1 and fp.hw["cpu_model"]
    assert fp.sw["kernel_name"] == platform.release()
    assert fp.sw["userspace"] == platform.freedesktop_os_release()["PRETTY_NAME"]
    assert len(fp.boot_id) == 36
    assert fp.sut("box").id == "box" and fp.sut("box").cpu_count == os.cpu_count()


def test_cli_prints_hw_and_sw(sshd, capsys):
    assert main(["sut", "fingerprint", "--host", sshd.host, "--port", str(sshd.port), "--user",
                 sshd.user, "--keyfile", sshd.keyfile, "--known-hosts", sshd.known_hosts]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert set(out["HW"]) == {"host_name", "architecture", "cpu_count", "cpu_model", "numa_nodes",
                              "memory", "product_name"}
    assert out["SW"]["kernel_name"] == platform.release()


def test_cli_refuses_an_unknown_host_key(sshd, capsys, tmp_path):
    argv = ["sut", "fingerprint", "--host", sshd.host, "--port", str(sshd.port), "--user",
            sshd.user, "--keyfile", sshd.keyfile, "--known-hosts", str(tmp_path / "kh")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ssh to ") and "Host key verification failed" in err
    assert err.count("\n") == 1
    assert main(argv + ["--accept-new-host-key"]) == 0


def test_busybox_style_answers_parse():
    fp = parse("host_name=fastpath-lab\narchitecture=x86_64\ncpu_count=2\ncpu_model=QEMU\n"
               "numa_nodes=0\nmemory_kib=1022800\nproduct_name=\nkernel_name=6.1.192-lab\n"
               "userspace=BusyBox v1.35.0\n")
    assert fp.hw["numa_nodes"] == 1 and fp.hw["memory"] == 1022800 * 1024
    assert fp.sw == {"kernel_name": "6.1.192-lab", "userspace": "BusyBox v1.35.0"}


def test_state_machine_refuses_calls_in_the_wrong_state(sshd_conn):
    m = SutMachine(SutSpec("box", sshd_conn, boot_timeout=20))
    assert m.state == OFF
    with pytest.raises(SutStableError, match=r"run_benchmark refused: the SUT box is off, not shell"):
        m.run_benchmark(["true"], 10)
    m.transition(SHELL)
    assert m.state == SHELL
    assert m.run_benchmark(["echo", "hi"], 10).stdout == "hi\n" and m.state == SHELL
    assert m.boot(SwProfileSpec("running")) is None and m.state == SHELL  # no kernel: no reboot
    m.state = BROKEN
    with pytest.raises(SutStableError, match="setup refused: the SUT box is broken"):
        m.setup(SwProfileSpec("x"))
    m.transition(SHELL)              # recover: SSH answers, so no power-cycle is needed
    assert m.state == SHELL
    m.close()
    assert m.state == OFF


def test_bootscript_lines_run_as_one_quoted_argument(sshd_conn, tmp_path):
    out = tmp_path / "boot out"
    m = SutMachine(SutSpec("box", sshd_conn))
    m.transition(SHELL)
    m.setup(SwProfileSpec("x", bootscript=(f"echo 'a;b' \"$((1+2))\" > '{out}'",
                                           f"echo second >> '{out}'")))
    assert out.read_text() == "a;b 3\nsecond\n"
    m.close()


def test_power_cycle_hook_runs_when_ssh_does_not_answer(sshd_conn, tmp_path):
    import dataclasses
    import socket as so
    with so.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    flag = tmp_path / "cycled"
    spec = SutSpec("box", dataclasses.replace(sshd_conn, port=dead, connect_timeout=1),
                   power_cycle=f"touch '{flag}'", boot_timeout=2)
    m = SutMachine(spec)
    m.state = BROKEN
    with pytest.raises(Exception, match="did not answer SSH within 2 s after recovery"):
        m.recover()
    assert flag.exists() and m.state == BROKEN
    spec = dataclasses.replace(spec, power_cycle="exit 9")
    m = SutMachine(spec)
    m.state = BROKEN
    with pytest.raises(SutStableError, match="power-cycle hook 'exit 9' failed with status 9"):
        m.recover()
