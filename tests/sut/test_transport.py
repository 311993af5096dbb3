"""The SSH transport against a real OpenSSH sshd on loopback."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import time

import pytest

from fastpath.errors import (RemoteCommandError, SshRefusedError, SshRejectedError, SutError,
                             SutTransientError)
from fastpath.sut.transport import Connection, Transport, quote_command


def test_run_returns_stdout_stderr_status(sshd_conn):
    with Transport(sshd_conn) as t:
        res = t.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert (res.stdout, res.stderr, res.status, res.ok) == ("out\n", "err\n", 3, False)
        assert t.run(["true"]).ok


def test_arguments_reach_the_remote_as_data(sshd_conn, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("still here")
    words = [f"x;rm -rf {victim}", "$(touch /tmp/fp-pwned)", "a b", "'q'", "`id`", "*", ""]
    with Transport(sshd_conn) as t:
        out = t.run_checked(["printf", "%s\\n", *words]).stdout
    assert out.split("\n")[:-1] == words
    assert victim.read_text() == "still here" and not os.path.exists("/tmp/fp-pwned")
    assert quote_command(["a;b"]) == "'a;b'"
    with pytest.raises(TypeError):
        quote_command("rm -rf /")


def test_run_checked_keeps_command_status_and_output(sshd_conn):
    with Transport(sshd_conn) as t, pytest.raises(RemoteCommandError) as info:
        t.run_checked(["sh", "-c", "echo partial; echo boom >&2; exit 7"])
    err = info.value
    assert (err.status, err.stdout, err.stderr) == (7, "partial\n", "boom\n")
    assert "status 7" in str(err) and "boom" in str(err) and "\n" not in str(err)


def test_timeout_is_transient(sshd_conn):
    with Transport(sshd_conn) as t:
        start = time.monotonic()
        with pytest.raises(SutTransientError, match="timed out after 1 s"):
            t.run(["sleep", "30"], timeout=1)
        assert time.monotonic() - start < 10
        assert t.run(["true"]).ok      # the transport still works


def other_key(tmp_path, name="other") -> str:
    """A real ed25519 key pair that the sshd fixture does not know."""
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def fails_fast(conn, *, up=True, seconds=5.0):
    """The error of wait_for(300 s) on conn, and that it came within ``seconds``."""
    lines = []
    with Transport(conn, say=lines.append) as t:
        start = time.monotonic()
        with pytest.raises(SutError) as info:
            t.wait_for(timeout=300, up=up)
        assert time.monotonic() - start < seconds
    assert lines == []          # nothing was waited for
    return info.value


def test_unknown_host_key_fails_at_once_unless_accept_new(sshd_conn, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    strict = dataclasses.replace(sshd_conn, known_hosts=str(empty))
    err = fails_fast(strict)
    assert isinstance(err, SshRejectedError) and err.kind == "host-key-unknown"
    text = str(err)
    assert text.startswith(f"ssh to {strict.label}: the SUT's host key is unknown (not in {empty})")
    assert "--known-hosts" in text and "accept_new_host_key" in text and "\n" not in text
    assert f"ssh said: No ED25519 host key is known for [127.0.0.1]:{sshd_conn.port}" in text
    assert text.endswith("Host key verification failed.") and "CHANGED" not in text
    with Transport(dataclasses.replace(strict, accept_new_host_key=True)) as t:
        assert t.run(["true"]).ok
    pinned_key = open(sshd_conn.known_hosts).read().split()[2]
    assert pinned_key in empty.read_text()     # remembered (possibly with a hashed host name)


def test_changed_host_key_fails_at_once_even_with_accept_new_and_keeps_the_hint(sshd_conn, tmp_path):
    other = open(other_key(tmp_path) + ".pub").read().split()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd_conn.port} {other[0]} {other[1]}\n")
    for accept_new in (False, True):
        conn = dataclasses.replace(sshd_conn, known_hosts=str(wrong), accept_new_host_key=accept_new)
        err = fails_fast(conn)
        assert isinstance(err, SshRejectedError) and err.kind == "host-key-changed"
        text = str(err)
        assert text.startswith(f"ssh to {conn.label}: the SUT's host key has CHANGED since it was "
                               f"pinned in {wrong}: someone may be intercepting the connection")
        assert "unknown" not in text and "\n" not in text and "@@@" not in text
        assert "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!" in text
        assert f"Offending ED25519 key in {wrong}:1" in text
        assert f'ssh-keygen -f "{wrong}" -R "[127.0.0.1]:{sshd_conn.port}"' in text
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in err.stderr     # ssh's whole stderr kept
    assert wrong.read_text().split()[2] == other[1]      # the pinned key was not replaced


def test_rejected_key_fails_at_once_naming_user_and_key(sshd_conn, tmp_path):
    conn = dataclasses.replace(sshd_conn, keyfile=other_key(tmp_path))
    err = fails_fast(conn)
    assert isinstance(err, SshRejectedError) and err.kind == "login"
    assert str(err) == (f"ssh to {conn.label}: the SUT refused the login (user {conn.user}, key "
                        f"{conn.keyfile}): is the key's public half in the SUT's authorized_keys? "
                        f"ssh said: {conn.user}@127.0.0.1: Permission denied (publickey).")
    absent = dataclasses.replace(sshd_conn, keyfile=str(tmp_path / "absent"))
    assert f"key {tmp_path / 'absent'}, which does not exist" in str(fails_fast(absent))


def closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_port_is_final_on_a_sut_that_is_up_and_awaited_during_a_reboot(sshd_conn):
    port = closed_port()
    conn = dataclasses.replace(sshd_conn, port=port)
    with Transport(conn) as t:
        with pytest.raises(SshRefusedError, match=f"port {port}: Connection refused"):
            t.run(["true"])          # transient: sshd may not be up yet after a reboot
        assert not t.reachable()
    err = fails_fast(conn, up=True)
    assert isinstance(err, SshRejectedError) and err.kind == "refused"
    assert str(err) == (f"ssh to {conn.label}: connection refused (nothing listens on that port): "
                        f"ssh said: ssh: connect to host 127.0.0.1 port {port}: Connection refused; "
                        f"the SUT answers, so it is up: check the host and port, and that sshd runs")
    lines = []
    with Transport(conn, say=lines.append) as t:       # while rebooting: waited out, and shown
        t.report_every = 1.0
        with pytest.raises(SutTransientError) as info:
            t.wait_for(timeout=3, interval=0.5, what="the moon")
    assert str(info.value) == (f"timed out after 3 s waiting for the moon (last: ssh: connect to "
                               f"host 127.0.0.1 port {port}: Connection refused)")
    assert lines[0] == (f"waiting up to 3 s for the moon (last: ssh: connect to host 127.0.0.1 "
                        f"port {port}: Connection refused)")
    assert len(lines) >= 2 and all(line.startswith("still waiting for the moon: ") and " s of 3 s" in line
                                   for line in lines[1:])


def test_waiting_reports_when_it_is_over(sshd_conn):
    lines, calls = [], []
    with Transport(sshd_conn, say=lines.append) as t:
        assert t.poll_until(lambda: calls.append(1) or len(calls) >= 3, timeout=10, interval=0.01,
                            what="three calls")
        assert t.poll_until(lambda: True, timeout=10, what="nothing")    # no wait: silent
    assert lines == ["waiting up to 10 s for three calls", "three calls: done after 0 s"]


def test_unreachable_port_is_transient():
    port = closed_port()
    with Transport(Connection("127.0.0.1", port=port, connect_timeout=2)) as t:
        with pytest.raises(SutTransientError, match=f"127.0.0.1:{port}"):
            t.run(["true"])
        assert not t.reachable()
        with pytest.raises(SutTransientError, match="timed out after 2 s waiting for SSH"):
            t.wait_for(timeout=2)


def gone(pid: int) -> bool:
    """The process has exited (a zombie counts: this container's init may not reap it)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_run_stoppable_kills_the_remote_process_group_on_timeout(sshd_conn, tmp_path):
    pidfile = tmp_path / "pid"
    script = f"sleep 60 & echo $! > {pidfile}; echo started; wait"
    with Transport(sshd_conn) as t:
        assert t.run_stoppable(["sh", "-c", "echo $$; exit 3"]).status == 3
        with pytest.raises(SutTransientError, match="timed out after 2 s"):
            t.run_stoppable(["sh", "-c", script], timeout=2)
        pid = int(pidfile.read_text())
        assert gone(pid)             # the grandchild too: the whole group was killed
        assert t.run(["true"]).ok


def test_connection_is_reused_through_a_private_control_master(sshd_conn):
    with Transport(sshd_conn) as t:
        t.run(["true"])
        sockets = os.listdir(t._dir)
        assert len(sockets) == 1 and oct(os.stat(t._dir).st_mode & 0o777) == "0o700"
        first = t.run(["sh", "-c", "echo $PPID"]).stdout
        assert t.run(["sh", "-c", "echo $PPID"]).stdout != ""   # still answers over the master
        t.reset()
        assert os.listdir(t._dir) == []
        assert t.run(["true"]).ok and first
    assert not os.path.exists(t._dir)


def test_copy_to_and_poll_until(sshd_conn, tmp_path):
    src = tmp_path / "payload bin"
    src.write_bytes(os.urandom(200_000))
    dest = tmp_path / "copied; here"
    with Transport(sshd_conn) as t:
        t.copy_to(str(src), str(dest))
        assert t.run_checked(["cmp", str(src), str(dest)]).ok
        calls = []
        assert t.poll_until(lambda: calls.append(1) or len(calls) >= 3, timeout=10,
                            interval=0.01) is True
        with pytest.raises(SutTransientError, match="waiting for the moon"):
            t.poll_until(lambda: False, timeout=0.2, interval=0.05, what="the moon")
        with pytest.raises(SutTransientError, match="scp of"):
            t.copy_to(str(tmp_path / "absent"), "/tmp/x")


def test_verbose_logs_every_command_with_timing(sshd_conn, caplog):
    caplog.set_level(logging.DEBUG, logger="fastpath.ssh")
    with Transport(sshd_conn) as t:
        t.run(["echo", "hello world"])
    assert any("echo 'hello world' -> 0 in" in r.getMessage() for r in caplog.records)


def test_a_changed_key_after_a_reboot_or_in_recovery_is_not_waited_out(sshd_conn, tmp_path):
    """wait_reboot and recover() (even with a power-cycle hook) stop at once on a changed key."""
    from fastpath.plan.model import SutSpec
    from fastpath.sut import deploy
    from fastpath.sut.machine import BROKEN, SutMachine
    other = open(other_key(tmp_path) + ".pub").read().split()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd_conn.port} {other[0]} {other[1]}\n")
    conn = dataclasses.replace(sshd_conn, known_hosts=str(wrong))
    with Transport(conn) as t:
        start = time.monotonic()
        with pytest.raises(SshRejectedError, match="host key has CHANGED"):
            deploy.wait_reboot(t, "old-boot-id", timeout=300)
        assert time.monotonic() - start < 5
    hook = tmp_path / "power-cycled"
    machine = SutMachine(SutSpec("loopback", conn, power_cycle=f"touch {hook}"))
    machine.state = BROKEN
    with pytest.raises(SshRejectedError, match="host key has CHANGED"):
        machine.recover()
    assert machine.state == BROKEN and not hook.exists()
    machine.close()


def test_machine_reports_its_waiting_through_say(sshd_conn):
    from fastpath.plan.model import SutSpec
    from fastpath.sut.machine import BROKEN, SHELL, SutMachine
    port = closed_port()
    lines = []
    spec = SutSpec("loopback", dataclasses.replace(sshd_conn, port=port), power_cycle="true",
                   boot_timeout=2)
    machine = SutMachine(spec, say=lines.append)
    machine.state = BROKEN
    with pytest.raises(SutTransientError) as info:
        machine.recover()        # after a power-cycle the port is refused while sshd starts
    assert str(info.value) == (f"SUT loopback did not answer SSH within 2 s after recovery (last: ssh: "
                               f"connect to host 127.0.0.1 port {port}: Connection refused)")
    assert lines[0].startswith(f"waiting up to 2 s for {spec.connection.label} to answer SSH after "
                               f"the power-cycle (last: ")
    machine.close()
    ok = SutMachine(SutSpec("loopback", sshd_conn), say=lines.append)
    ok.transition(SHELL)
    assert ok.state == SHELL
    ok.close()


def test_key_and_known_hosts_paths_with_blanks(sshd_conn, tmp_path):
    import shutil
    where = tmp_path / "lab home"
    where.mkdir()
    shutil.copy(sshd_conn.keyfile, where / "id key")
    shutil.copy(sshd_conn.known_hosts, where / "known hosts")
    conn = dataclasses.replace(sshd_conn, keyfile=str(where / "id key"), known_hosts=str(where / "known hosts"))
    with Transport(conn) as t:
        assert t.run(["true"]).ok
