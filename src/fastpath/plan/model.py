"""A validated plan: what ``load_plan`` returns and ``execute.run_plan`` runs."""

from __future__ import annotations

import dataclasses

from fastpath.benchmarks.spec import BenchmarkSpec
from fastpath.sut.transport import Connection

BOOT_METHODS = ("kexec", "grub")


@dataclasses.dataclass(frozen=True)
class PoolMember:
    """One SUT of a static pool (``sut.pool.suts[i]``)."""
    name: str
    connection: Connection
    power_cycle: str | None = None


@dataclasses.dataclass(frozen=True)
class PoolSpec:
    """``sut.pool``: a static list of SUTs, or a labgrid coordinator and a place filter."""
    suts: tuple[PoolMember, ...] = ()   # static pool
    coordinator: str | None = None      # labgrid pool: HOST:PORT of labgrid-coordinator
    tags: tuple[tuple[str, str], ...] = ()   # labgrid: places must carry these tags
    count: int = 0                      # SUTs to reserve; 0 = every SUT of a static pool
    wait: float | None = None           # labgrid: seconds to wait for the places; None = forever
    prio: float = 0.0                   # labgrid: reservation priority (higher goes first)

    @property
    def kind(self) -> str:
        return "labgrid" if self.coordinator else "static"


@dataclasses.dataclass(frozen=True)
class SutSpec:
    name: str
    connection: Connection              # with a pool: the defaults (user, keyfile, known_hosts)
    power_cycle: str | None = None      # local shell command that power-cycles the SUT
    boot_method: str = "kexec"          # "kexec" or "grub"
    boot_timeout: float = 300.0         # seconds to wait for SSH after a reboot
    pool: PoolSpec | None = None        # several identical SUTs instead of one

    def member(self, name: str, connection: Connection, power_cycle: str | None) -> "SutSpec":
        """The SutSpec of one SUT of the pool; its store id is ``<name>@<member>``."""
        return dataclasses.replace(self, name=f"{self.name}@{name}", connection=connection,
                                   power_cycle=power_cycle, pool=None)


@dataclasses.dataclass(frozen=True)
class SwProfileSpec:
    name: str
    kernel: str | None = None           # local image path; None = benchmark the running kernel
    modules: str | None = None          # local modules tarball
    kernel_git_sha: str = ""
    cmdline: tuple[str, ...] = ()
    sysctl: tuple[str, ...] = ()        # validated "key=value"
    bootscript: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Plan:
    sut: SutSpec
    swprofiles: tuple[SwProfileSpec, ...]
    benchmarks: tuple[BenchmarkSpec, ...]
    file: str = ""

    @property
    def sessions(self) -> int:
        """Boots per swprofile: the most any benchmark asks for."""
        return max((b.sessions for b in self.benchmarks), default=0)

    def samples_per_session(self, ordinal: int) -> int:
        """Recorded samples expected in the ordinal-th complete session of a swprofile."""
        return sum(b.repeats * len(b.resultclasses) for b in self.benchmarks
                   if ordinal < b.sessions)

    def with_swprofiles(self, swprofiles) -> "Plan":
        return dataclasses.replace(self, swprofiles=tuple(swprofiles))

    def with_sut(self, sut: SutSpec) -> "Plan":
        return dataclasses.replace(self, sut=sut)

    def with_benchmarks(self, benchmarks) -> "Plan":
        return dataclasses.replace(self, benchmarks=tuple(benchmarks))
