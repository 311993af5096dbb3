"""The SSH transport against a real OpenSSH sshd on loopback."""

from __future__ import annotations

import dataclasses
import logging
import os
import time

import pytest

from fastpath.errors import RemoteCommandError, SutTransientError
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


def test_unknown_host_key_is_refused_unless_accept_new(sshd_conn, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    strict = dataclasses.replace(sshd_conn, known_hosts=str(empty))
    with Transport(strict) as t, pytest.raises(SutTransientError, match="Host key verification"):
        t.run(["true"])
    with Transport(dataclasses.replace(strict, accept_new_host_key=True)) as t:
        assert t.run(["true"]).ok
    pinned_key = open(sshd_conn.known_hosts).read().split()[2]
    assert pinned_key in empty.read_text()     # remembered (possibly with a hashed host name)


def test_wrong_host_key_is_refused_even_with_accept_new(sshd_conn, tmp_path):
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd_conn.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    conn = dataclasses.replace(sshd_conn, known_hosts=str(wrong), accept_new_host_key=True)
    with Transport(conn) as t, pytest.raises(SutTransientError):
        t.run(["true"])


def test_unreachable_port_is_transient(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Transport(Connection("127.0.0.1", port=port, connect_timeout=2)) as t:
        with pytest.raises(SutTransientError, match=f"127.0.0.1:{port}"):
            t.run(["true"])
        assert not t.reachable()
        with pytest.raises(SutTransientError, match="timed out after 2 s waiting for SSH"):
            t.wait_for(timeout=2)


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
