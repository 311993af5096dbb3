"""The objects a result store holds. Every field is documented here, once.

Identity: a SUT by ``id`` (its name), a swprofile by ``id`` (its name), a benchmark by
``id`` (``suite/name``), a result class by ``(benchmark, name)``, a sample by
``(sut, swprofile, benchmark, resultclass, session, repeat)``, a session by
``(sut, swprofile, session)``. Writing an object whose identity exists already is a no-op
when the content is equal (this is what makes ``result merge`` idempotent); a sample with
an existing identity is never written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HIGHER = "higher"
LOWER = "lower"
DIRECTIONS = (HIGHER, LOWER)


@dataclass(frozen=True)
class Sut:
    id: str                       # the SUT's name as the plan gives it, e.g. "Ampere Altra Max"
    host_name: str = ""           # `hostname` on the SUT
    architecture: str = ""        # `uname -m`, e.g. aarch64, x86_64
    cpu_count: int = 0            # online CPUs
    cpu_model: str = ""           # model name from /proc/cpuinfo (or lscpu)
    numa_nodes: int = 1           # NUMA nodes; bisection requires 1 (single-node)
    memory: int = 0               # total memory in bytes
    product_name: str = ""        # /sys/class/dmi/id/product_name, "" when absent


@dataclass(frozen=True)
class SwProfile:
    id: str                       # the swprofile's name, e.g. "6.8.0-baseline", "bisect-a1b2c3d4e5f6"
    kernel_name: str = ""         # `uname -r` of the running kernel
    kernel_git_sha: str = ""      # the kernel tree's commit, "" when unknown
    userspace: str = ""           # fingerprint of the userspace (e.g. /etc/os-release PRETTY_NAME)
    cmdline: tuple[str, ...] = () # extra kernel command-line words
    sysctl: tuple[str, ...] = ()  # "key=value" settings applied after boot
    bootscript: tuple[str, ...] = ()  # shell lines run after boot, before benchmarks


@dataclass(frozen=True)
class Benchmark:
    id: str                       # "suite/name", e.g. "sysbench/thread"
    suite: str = ""
    name: str = ""
    params: dict = field(default_factory=dict, hash=False, compare=True)  # parameters as run


@dataclass(frozen=True)
class ResultClass:
    benchmark: str                # Benchmark.id
    name: str                     # e.g. "sysbenchthread-110"
    unit: str = ""                # e.g. "ops/s", "ns", "s"
    improvement: str = HIGHER     # HIGHER or LOWER: which direction is better


@dataclass(frozen=True)
class Session:
    sut: str
    swprofile: str
    session: int                  # 0-based index of the boot for this (sut, swprofile)
    status: str = "running"       # "running", "complete" or "failed"
    boot_id: str = ""             # /proc/sys/kernel/random/boot_id of that boot
    kernel_release: str = ""      # `uname -r` seen in that boot
    started: str = ""             # ISO 8601 UTC
    finished: str = ""            # ISO 8601 UTC, "" while running


@dataclass(frozen=True)
class Sample:
    sut: str
    swprofile: str
    benchmark: str
    resultclass: str
    session: int
    repeat: int                   # 0-based index of the recorded run within the session
    value: float
    timestamp: str = ""           # ISO 8601 UTC when the value was parsed


@dataclass(frozen=True)
class ErrorRecord:
    sut: str
    swprofile: str
    stage: str                    # "deploy", "boot", "setup", "benchmark", "parse", "build"
    message: str                  # one line: what failed
    benchmark: str = ""
    session: int = -1             # -1 when not inside a session
    output: str = ""              # captured output (truncated by the writer if huge)
    timestamp: str = ""           # ISO 8601 UTC
