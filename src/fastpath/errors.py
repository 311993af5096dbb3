"""The one error hierarchy of fastpath.

Every expected failure is a FastpathError. The CLI catches FastpathError once, prints
``str(error)`` as one line and exits with ``error.exit_code``; anything else is a bug and
gets a traceback. Exceptions from libraries (SSH, database drivers, git, YAML) are
translated into these classes in one place per backend.

    FastpathError
      UserError              bad input: plan, URL, parameter, file (exit 1)
        PlanError            a plan or context file is malformed (names file, key path, line)
      SutError               the SUT misbehaves
        SutTransientError    retry allowed: connection dropped, timeout, no route
          SshRefusedError    nothing listens on the SSH port: transient while the SUT reboots
        SutStableError       retrying will not help: kernel did not boot, wrong kernel
          KernelBootError
          SshRejectedError   ssh will not go on: host key unknown or CHANGED, login refused,
                             no such host, a refused port on a SUT that should be up
        NothingMeasuredError a benchmark of a plan run gave no sample
        RemoteCommandError   a command ran and failed; keeps command, status, stdout, stderr
        PoolError            a pool of SUTs cannot be had: coordinator gone, no matching place
      StoreError             the result store cannot be used
        StoreVersionError    written by a newer fastpath
        StoreReadOnlyError   a write to a store opened read-only
        StoreBusyError       a transient conflict (deadlock): the write may be retried
      BuildError             a kernel did not build
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


class FastpathError(Exception):
    """Base of every expected fastpath failure."""

    exit_code = 1


def api_name(param: str) -> str:
    """A parameter named in the library's words: ``'tree'``."""
    return f"'{param}'"


class UserError(FastpathError):
    """Something the user gave us is wrong: a parameter, a file, a URL, an id.

    A message about a parameter names it as a ``{name}`` placeholder, ``name`` listed in
    ``params`` and being the library's own keyword (or field) name::

        UserError(f"{{tree}} {tree}: not a git work tree (or give {{tree}})", params=("tree",))

    ``str(err)`` says ``'tree' /x: ... (or give 'tree')``; the CLI's handler renders the same
    message through ``render`` with the command's flag (``--tree /x: ... (or give --tree)``).
    ``args`` holds the message as given (placeholders unreplaced), so the error pickles.
    """

    params: tuple[str, ...] = ()

    def __init__(self, *args, params: Iterable[str] = ()):
        super().__init__(*args)
        self.params = tuple(params)

    def render(self, word: Callable[[str], str]) -> str:
        """The message with each placeholder of ``params`` replaced by ``word(name)``."""
        if not self.params:
            return super().__str__()
        text = str(self.args[0]) if self.args else ""
        for name in self.params:
            text = text.replace("{" + name + "}", word(name))
        return text

    def __str__(self) -> str:
        return self.render(api_name)


class PlanError(UserError):
    """A plan or context file is malformed."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None, params: Iterable[str] = ()):
        where = []
        if file:
            where.append(f"{file}:{line}" if line else str(file))
        if key:
            where.append(f"key '{key}'")
        super().__init__((": ".join([", ".join(where), message])) if where else message,
                         params=params)
        self.file, self.key, self.line = file, key, line


class SutError(FastpathError):
    """The SUT did not do what was asked."""

    exit_code = 2


class SutTransientError(SutError):
    """A failure that may pass on retry: refused or dropped connection, timeout."""


class SutStableError(SutError):
    """A failure that retrying will not fix."""


class KernelBootError(SutStableError):
    """A deployed kernel did not come up, or a different kernel came up."""


class SshRefusedError(SutTransientError):
    """The SUT's address answers but nothing listens on the SSH port. Transient while the SUT
    reboots (sshd is not up yet); the caller that expects the SUT up makes it SshRejectedError."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


class SshRejectedError(SutStableError):
    """ssh itself refused to go on, and waiting will not change it: the host key is unknown or
    has changed, the login was refused, the host name does not resolve. ``kind`` names which
    (host-key-unknown, host-key-changed, login, host, refused, config); ``stderr`` is ssh's."""

    def __init__(self, message: str, kind: str, stderr: str = ""):
        super().__init__(message)
        self.kind, self.stderr = kind, stderr


class NothingMeasuredError(SutError):
    """A benchmark of a plan run gave no sample (not installed, failed, unparsable output, or
    its kernel did not boot): the run measured nothing of it."""


class RemoteCommandError(SutError):
    """A remote command ran and exited non-zero."""

    def __init__(self, command: list[str] | str, status: int, stdout: str = "", stderr: str = "",
                 host: str | None = None):
        self.command, self.status, self.stdout, self.stderr, self.host = (
            command, status, stdout, stderr, host)
        cmd = command if isinstance(command, str) else " ".join(command)
        last = (stderr or stdout).strip().splitlines()
        detail = f": {last[-1]}" if last else ""
        on = f" on {host}" if host else ""
        super().__init__(f"remote command failed{on} with status {status}: {cmd}{detail}")


class PoolError(SutError):
    """A pool of SUTs cannot give what was asked: the coordinator is unreachable, no place
    matches, a reservation was lost, or every SUT of the pool has died."""


class StoreError(FastpathError):
    """The result store cannot be opened, read or written."""

    exit_code = 3


class StoreVersionError(StoreError):
    """The store was written by a newer fastpath (or is not a fastpath store)."""


class StoreReadOnlyError(StoreError):
    """A write was attempted on a store opened read-only."""


class StoreBusyError(StoreError):
    """The database chose this write as a deadlock victim (or could not serialise it):
    nothing of it was committed, and running it again may succeed."""


class BuildError(FastpathError):
    """A kernel build failed."""

    exit_code = 4
