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

Errors: ssh's own failure (exit 255) is sorted by ssh's stderr (``ssh_failure``). What
waiting cannot change raises SshRejectedError at once with ssh's own words: an unknown host
key, a CHANGED host key (ssh's ``ssh-keygen -R`` hint kept), a refused login, a host name that
does not resolve. A refused port raises SshRefusedError (transient: sshd may not be up yet
after a reboot; ``wait_for(up=True)`` makes it permanent). A dropped link or a timeout raises
SutTransientError. A command that ran and failed raises RemoteCommandError (run_checked).
``run_stoppable`` runs a long command in its own process group on the SUT and kills that group
when the run is interrupted (Ctrl-C) or times out. Polls report their waiting through ``say``
(what they wait for, for how long, ssh's last answer). Every command is logged at DEBUG level
with its timing (``fastpath --verbose``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence

from fastpath.errors import (RemoteCommandError, SshRefusedError, SshRejectedError, SutError,
                             SutTransientError)

log = logging.getLogger("fastpath.ssh")

SSH_FAILURE = 255

# run_stoppable: the command runs as the leader of its own process group (setsid; without it
# the command's own pid), whose id is in the file $1 while it runs; _STOP kills that group.
_STOPPABLE = r"""
f=$1; shift
if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi
echo $! > "$f"
wait $!
st=$?
rm -f "$f"
exit $st
"""
_STOP = r"""
f=$1
[ -s "$f" ] || exit 0
pg=$(cat "$f")
kill -TERM -"$pg" 2>/dev/null || kill -TERM "$pg" 2>/dev/null
i=0
while [ $i -lt 20 ] && { kill -0 -"$pg" 2>/dev/null || kill -0 "$pg" 2>/dev/null; }; do
  sleep 0.1; i=$((i+1))
done
kill -KILL -"$pg" 2>/dev/null || kill -KILL "$pg" 2>/dev/null
rm -f "$f"
exit 0
"""


def ssh_said(stderr: str) -> str:
    """ssh's stderr as one line: every line but the @@@ banner, blanks squeezed."""
    lines = (" ".join(line.split()) for line in stderr.splitlines())
    return " ".join(line for line in lines if line and not line.startswith("@"))


def ssh_failure(conn: "Connection", stderr: str, doing: str = "ssh") -> SutError:
    """The error for ssh's failure, from its stderr: SshRejectedError when waiting cannot help,
    SshRefusedError for a refused port, else SutTransientError. The message keeps ssh's words."""
    said = ssh_said(stderr) or "connection lost"
    where = f"{doing} to {conn.label}"
    known = conn.known_hosts or "~/.ssh/known_hosts"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or "has changed and you have requested" in stderr:
        return SshRejectedError(
            f"{where}: the SUT's host key has CHANGED since it was pinned in {known}: someone may "
            f"be intercepting the connection, or the SUT was reinstalled; check the new key before "
            f"you remove the old one. ssh said: {said}", "host-key-changed", stderr)
    if "Host key verification failed" in stderr or "host key is known for" in stderr:
        return SshRejectedError(
            f"{where}: the SUT's host key is unknown (not in {known}): pin it in a known_hosts file "
            f"(known_hosts in a plan, --known-hosts) or trust a new key once (accept_new_host_key "
            f"in a plan, sut fingerprint --accept-new-host-key). ssh said: {said}", "host-key-unknown", stderr)
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        key = conn.keyfile or "ssh's default keys"
        if conn.keyfile and not os.path.exists(os.path.expanduser(conn.keyfile)):
            key += ", which does not exist"
        return SshRejectedError(
            f"{where}: the SUT refused the login (user {conn.user or 'from ssh config'}, key {key}): "
            f"is the key's public half in the SUT's authorized_keys? ssh said: {said}", "login", stderr)
    if "Could not resolve hostname" in stderr and "Temporary failure" not in stderr:
        return SshRejectedError(f"{where}: no such host: ssh said: {said}", "host", stderr)
    if "Unable to negotiate" in stderr or "Bad owner or permissions" in stderr \
            or "Bad configuration option" in stderr or "command-line line" in stderr:
        return SshRejectedError(f"{where}: ssh cannot connect: ssh said: {said}", "config", stderr)
    if "Connection refused" in stderr:
        return SshRefusedError(f"{where}: connection refused (nothing listens on that port): "
                               f"ssh said: {said}", stderr)
    return SutTransientError(f"{where} failed: {said}")


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

    def __init__(self, conn: Connection, say: Callable[[str], None] | None = None):
        self.conn = conn
        self.say = say                  # where polls report their waiting (None: silent)
        self.report_every = 10.0        # seconds between two "still waiting" lines
        self.last_failure = ""          # ssh's last transient failure (shown while waiting)
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
        for key, value in opts.items():     # ssh splits an option at blanks unless quoted
            out += ["-o", f'{key}="{value}"' if any(c.isspace() for c in value) else f"{key}={value}"]
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
            err = ssh_failure(self.conn, proc.stderr)
            self.last_failure = ssh_said(proc.stderr) or "connection lost"
            raise err
        return Result(remote, proc.returncode, proc.stdout, proc.stderr, seconds)

    def run_stoppable(self, argv: Sequence[str], timeout: float = 60) -> Result:
        """run() argv in its own process group on the SUT; when the run is interrupted
        (Ctrl-C), times out or loses its connection, that group is killed before the error
        goes on, so no benchmark is left running on the SUT."""
        pidfile = f"/tmp/fastpath-run-{secrets.token_hex(8)}"
        try:
            return self.run(["sh", "-c", _STOPPABLE, "fastpath", pidfile, *argv], timeout=timeout)
        except BaseException:
            self.stop(pidfile)
            raise

    def stop(self, pidfile: str) -> None:
        """Kill the process group run_stoppable wrote to pidfile (best effort, a few seconds)."""
        try:
            self.run(["sh", "-c", _STOP, "fastpath", pidfile], timeout=self.conn.connect_timeout + 5)
        except (SutError, KeyboardInterrupt) as err:
            log.warning("%s: could not stop the remote command (%s): %s", self.conn.label, pidfile, err)

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
    def poll_until(self, predicate: Callable[[], object], timeout: float, interval: float = 1.0,
                   what: str = "condition") -> object:
        """Call predicate until it returns something truthy; SutTransientError at the deadline.

        Once the first call fails, ``say`` hears what is awaited and for how long, then a line
        every ``report_every`` seconds (with ssh's last answer), and when it came."""
        start = time.monotonic()
        deadline, report, waited = start + timeout, start + self.report_every, False
        self.last_failure = ""
        while True:
            value = predicate()
            now = time.monotonic()
            if value:
                if waited and self.say:
                    self.say(f"{what}: done after {now - start:.0f} s")
                return value
            last = f" (last: {self.last_failure})" if self.last_failure else ""
            if now >= deadline:
                raise SutTransientError(f"timed out after {timeout:g} s waiting for {what}{last}")
            if self.say and not waited:
                self.say(f"waiting up to {timeout:g} s for {what}{last}")
            elif self.say and now >= report:
                self.say(f"still waiting for {what}: {now - start:.0f} s of {timeout:g} s{last}")
                report = now + self.report_every
            waited = True
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def wait_for(self, timeout: float, interval: float = 1.0, up: bool = False,
                 what: str | None = None) -> None:
        """Poll until the SUT answers SSH (a fresh connection each time). ``up``: the SUT
        should be up now, so a refused port is final (SshRejectedError) rather than awaited."""
        def answers() -> bool:
            self.reset()
            try:
                return self.run(["true"], timeout=min(timeout, self.conn.connect_timeout + 5)).ok
            except SshRefusedError as err:
                if up:
                    raise SshRejectedError(f"{err}; the SUT answers, so it is up: check the host and "
                                           f"port, and that sshd runs", "refused", err.stderr) from None
                return False
            except SutTransientError:
                return False
        self.poll_until(answers, timeout, interval, what=what or f"SSH on {self.conn.label}")

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
            err = ssh_failure(self.conn, proc.stderr, doing=f"scp of {local}")
            if isinstance(err, SshRejectedError):
                raise err
            raise SutTransientError(f"scp of {local} to {self.conn.label}:{remote} failed: "
                                    f"{ssh_said(proc.stderr) or proc.returncode}")

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
