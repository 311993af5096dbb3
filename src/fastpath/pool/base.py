"""The pool interface: reserve k identical SUTs, get a Lease for each, release them all.

    with open_pool(plan.sut) as pool:           # a static list, or a labgrid coordinator
        leases = pool.reserve(2)                 # waits (progress on stderr) until 2 are ours
        spec = leases[0].sut_spec(plan.sut)      # a SutSpec: connection + power-cycle hook
        ...
        pool.release(leases[1])                  # that SUT died: give it back early
    # leaving the block (normally, on Ctrl-C/SIGTERM, or an exception) releases every lease

A backend implements ``_reserve(count)`` and ``_release(lease)``. Callers only see Lease
objects, so another backend (e.g. LAVA, where a lease is a submitted job holding a board)
plugs in behind the same four calls: reserve, release, release_all, close.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import logging
import signal
import sys
import threading

from fastpath.sut.transport import Connection

log = logging.getLogger("fastpath.pool")


@dataclasses.dataclass(frozen=True)
class Lease:
    """One SUT of the pool, ours until released."""

    name: str                       # the member's name (static entry, labgrid place)
    connection: Connection          # how to reach it over SSH
    power_cycle: str | None = None  # local shell command that power-cycles it, if the pool has one
    detail: str = ""                # where it came from, for messages (e.g. "labgrid place sut-0")

    def sut_spec(self, base):
        """``base`` (the plan's SutSpec) for this member: store id ``<base.name>@<name>``."""
        return base.member(self.name, self.connection, self.power_cycle)


class Pool(abc.ABC):
    """A source of identical SUTs. Thread-safe: workers may release their own lease."""

    def __init__(self, say=None):
        self.say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.leases: list[Lease] = []
        self._lock = threading.Lock()

    def reserve(self, count: int) -> list[Lease]:
        """``count`` SUTs, locked for this process; blocks until they are free. A backend
        that fails (or is interrupted) part way gives back what this call had taken."""
        got = self._reserve(count)
        with self._lock:
            self.leases.extend(got)
        return got

    def release(self, lease: Lease) -> None:
        """Give one SUT back (idempotent)."""
        with self._lock:
            if lease not in self.leases:
                return
            self.leases.remove(lease)
        try:
            self._release(lease)
        except Exception as err:        # releasing must not hide the error that led here
            self.say(f"pool: could not release {lease.name}: {err}")

    def release_all(self) -> None:
        for lease in list(self.leases):
            self.release(lease)

    def close(self) -> None:
        self.release_all()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abc.abstractmethod
    def _reserve(self, count: int) -> list[Lease]:
        ...

    @abc.abstractmethod
    def _release(self, lease: Lease) -> None:
        ...


@contextlib.contextmanager
def signals_interrupt():
    """SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread (as Ctrl-C does), so the
    ``finally`` blocks that release locks run. A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    old = {sig: signal.signal(sig, interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
