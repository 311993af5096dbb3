"""The one remote-command primitive: the OpenSSH client as a subprocess.

    t = Transport(Connection(host="lab", user="root", port=2222, keyfile="~/.ssh/id_ed25519"))
    res = t.run(["uname", "-r"], timeout=30)         # -> Result(stdout, stderr, status, seconds)
    t.run_checked(["sysctl", "-w", "kernel.foo=1"])  # RemoteCommandError on non-zero status
    t.poll_until(lambda: t.reachable(), timeout=120) # reboot by polling, never by sleeping
    t.copy_to("bzImage", "/boot/vmlinuz-x")          # scp
    t.close()

Arguments are data: each is quoted with shlex.quote before it reaches the remote shell, so
a word like ``x;rm -rf /`` arrives as one argument. Because the OpenSSH client is used,
Host aliases, ProxyJump and the rest of ~/.ssh/config apply. A control master (in a
private directory) is shared by all commands; ``reset()`` drops it after a reboot.

Errors: ssh's own failure (exit 255: refused, dropped, host key) and a timeout raise
SutTransientError; a command that ran and failed raises RemoteCommandError (run_checked).
Every command is logged at DEBUG level with its timing (``fastpath --verbose``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence

from fastpath.errors import RemoteCommandError, SutTransientError

log = logging.getLogger("fastpath.ssh")

SSH_FAILURE = 255


@dataclasses.dataclass(frozen=True)
class Connection:
    """How to reach a SUT. Only ``host`` is required; the rest falls back to ~/.ssh/config."""

    host: str
    user: str | None = None
    port: int | None = None
    keyfile: str | None = None
    known_hosts: str | None = None
    accept_new_host_key: bool = False   # StrictHostKeyChecking=accept-new instead of yes
    connect_timeout: int = 10
    alive_interval: int = 5             # ServerAliveInterval; x3 misses = a dropped link

    @property
    def label(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.host}{port}"


@dataclasses.dataclass(frozen=True)
class Result:
    command: str
    status: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == 0


def quote_command(argv: Sequence[str] | str) -> str:
    """The command line the remote shell sees: every argument quoted as data."""
    if isinstance(argv, str):
        raise TypeError("pass an argument list; use ['sh', '-c', script] for a shell script")
    return " ".join(shlex.quote(str(a)) for a in argv)


class Transport:
    """Runs commands on one SUT through OpenSSH, sharing one control master."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._dir = tempfile.mkdtemp(prefix="fastpath-ssh-")
        os.chmod(self._dir, 0o700)

    # -- option building ---------------------------------------------------------------
    def options(self) -> list[str]:
        c = self.conn
        opts = {
            "BatchMode": "yes",
            "StrictHostKeyChecking": "accept-new" if c.accept_new_host_key else "yes",
            "ControlMaster": "auto",
            "ControlPath": os.path.join(self._dir, "%C"),
            "ControlPersist": "60",
            "ConnectTimeout": str(c.connect_timeout),
            "ServerAliveInterval": str(c.alive_interval),
            "ServerAliveCountMax": "3",
            "LogLevel": "ERROR",
        }
        if c.known_hosts:
            opts["UserKnownHostsFile"] = os.path.expanduser(c.known_hosts)
        if c.keyfile:
            opts["IdentityFile"] = os.path.expanduser(c.keyfile)
            opts["IdentitiesOnly"] = "yes"
        if c.user:
            opts["User"] = c.user
        out: list[str] = []
        for key, value in opts.items():
            out += ["-o", f"{key}={value}"]
        return out

    def ssh_argv(self, remote: str) -> list[str]:
        port = ["-p", str(self.conn.port)] if self.conn.port else []
        return ["ssh", *self.options(), *port, "--", self.conn.host, remote]

    # -- the primitive -----------------------------------------------------------------
    def run(self, argv: Sequence[str], timeout: float = 60, input: str | None = None) -> Result:
        """Run argv on the SUT; return its Result whatever its status.

        Raises SutTransientError when ssh itself fails (status 255) or on timeout."""
        remote = quote_command(argv)
        start = time.monotonic()
        try:
            proc = subprocess.run(self.ssh_argv(remote), capture_output=True, text=True,
                                  errors="replace", timeout=timeout, input=input,
                                  stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            log.debug("%s: %s: timed out after %.1f s", self.conn.label, remote, timeout)
            raise SutTransientError(
                f"{self.conn.label}: command timed out after {timeout:g} s: {remote}") from None
        seconds = time.monotonic() - start
        log.debug("%s: %s -> %d in %.3f s", self.conn.label, remote, proc.returncode, seconds)
        if proc.returncode == SSH_FAILURE:
            reason = proc.stderr.strip().splitlines()
            raise SutTransientError(f"ssh to {self.conn.label} failed: "
                                    f"{reason[-1] if reason else 'connection lost'}")
        return Result(remote, proc.returncode, proc.stdout, proc.stderr, seconds)

    def run_checked(self, argv: Sequence[str], timeout: float = 60,
                    input: str | None = None) -> Result:
        """run(), raising RemoteCommandError (command, status, stdout, stderr) on failure."""
        res = self.run(argv, timeout=timeout, input=input)
        if not res.ok:
            raise RemoteCommandError(res.command, res.status, res.stdout, res.stderr,
                                     host=self.conn.label)
        return res

    def shell(self, script: str, timeout: float = 60, check: bool = True) -> Result:
        """Run a fixed shell script (the script travels as one quoted `sh -c` argument)."""
        argv = ["sh", "-c", script]
        return self.run_checked(argv, timeout) if check else self.run(argv, timeout)

    def reachable(self, timeout: float | None = None) -> bool:
        """True when a trivial command answers; False on a transient SSH failure."""
        try:
            return self.run(["true"], timeout=timeout or self.conn.connect_timeout + 5).ok
        except SutTransientError:
            return False

    # -- on top ------------------------------------------------------------------------
    @staticmethod
    def poll_until(predicate: Callable[[], object], timeout: float, interval: float = 1.0,
                   what: str = "condition") -> object:
        """Call predicate until it returns something truthy; SutTransientError at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise SutTransientError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def wait_for(self, timeout: float, interval: float = 1.0) -> None:
        """Poll until the SUT answers SSH (a fresh connection each time)."""
        def answers() -> bool:
            self.reset()
            return self.reachable(timeout=min(timeout, self.conn.connect_timeout + 5))
        self.poll_until(answers, timeout, interval, what=f"SSH on {self.conn.label}")

    def copy_to(self, local: str, remote: str, timeout: float = 600) -> None:
        """Copy a local file to a remote path with scp (over the shared master)."""
        port = ["-P", str(self.conn.port)] if self.conn.port else []
        target = f"{self.conn.host}:{remote}"   # SFTP protocol: the path is literal
        argv = ["scp", "-q", *self.options(), *port, "--", str(local), target]
        start = time.monotonic()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SutTransientError(f"scp of {local} to {self.conn.label}:{remote} timed out "
                                    f"after {timeout:g} s") from None
        log.debug("%s: scp %s -> %s: %d in %.3f s", self.conn.label, local, remote,
                  proc.returncode, time.monotonic() - start)
        if proc.returncode != 0:
            reason = proc.stderr.strip().splitlines()
            raise SutTransientError(f"scp of {local} to {self.conn.label}:{remote} failed: "
                                    f"{reason[-1] if reason else proc.returncode}")

    # -- connection reuse --------------------------------------------------------------
    def reset(self) -> None:
        """Drop the control master (after a reboot the old one is dead)."""
        port = ["-p", str(self.conn.port)] if self.conn.port else []
        try:
            subprocess.run(["ssh", *self.options(), *port, "-O", "exit", "--", self.conn.host],
                           capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pass
        for name in os.listdir(self._dir):
            try:
                os.unlink(os.path.join(self._dir, name))
            except OSError:
                pass

    def close(self) -> None:
        self.reset()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
