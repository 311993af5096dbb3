"""A validated plan: what ``load_plan`` returns and ``execute.run_plan`` runs."""

from __future__ import annotations

import dataclasses

from fastpath.benchmarks.spec import BenchmarkSpec
from fastpath.sut.transport import Connection

BOOT_METHODS = ("kexec", "grub")


@dataclasses.dataclass(frozen=True)
class SutSpec:
    name: str
    connection: Connection
    power_cycle: str | None = None      # local shell command that power-cycles the SUT
    boot_method: str = "kexec"          # "kexec" or "grub"
    boot_timeout: float = 300.0         # seconds to wait for SSH after a reboot


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

    def with_benchmarks(self, benchmarks) -> "Plan":
        return dataclasses.replace(self, benchmarks=tuple(benchmarks))
