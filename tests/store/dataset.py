"""A small dataset touching every field and awkward value, written the same way to any store."""

from __future__ import annotations

import math

from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)

SUTS = [Sut("Ampere Altra Max", "altra", "aarch64", 128, "Neoverse-N1", 1, 512 * 2**30, "Mt.Collins"),
        Sut("lab, \"quoted\" ünïcode", "fastpath-lab", "x86_64", 2, "QEMU TCG", 1, 2**30, "")]
SWPROFILES = [
    SwProfile("6.8.0-baseline", "6.8.0", "a1b2c3d4e5f6", "Debian 12", ("mitigations=off",),
              ("kernel.sched_min_granularity_ns=1000000",), ("echo 1 > /proc/sys/vm/drop_caches",)),
    SwProfile("6.9.0", "6.9.0", "0123456789ab", "Debian 12", ("mitigations=off",),
              ("kernel.sched_min_granularity_ns=1000000",), ("echo 'a,b' \"c\"", "line\nbreak")),
    SwProfile("Case-Sensitive", "x"), SwProfile("case-sensitive", "y"),
]
BENCHMARKS = [Benchmark("sysbench/thread", "sysbench", "thread", {"threads": 110, "time": "10s"}),
              Benchmark("fp/syscall", "fp", "syscall", {})]
RESULTCLASSES = [ResultClass("sysbench/thread", "sysbenchthread-110", "ops/s", "higher"),
                 ResultClass("fp/syscall", "ns_per_call", "ns", "lower"),
                 ResultClass("fp/syscall", "Ns_per_call", "ns", "lower")]
SESSIONS = [Session(SUTS[0].id, p.id, s, "complete", f"boot-{s}", p.kernel_name,
                    "2026-11-28T10:00:00Z", "2026-11-28T10:05:00Z")
            for p in SWPROFILES[:2] for s in range(2)]
ERRORS = [ErrorRecord(SUTS[0].id, "6.9.0", "benchmark", "sysbench exited 1", "sysbench/thread", 1,
                      "FATAL: 'x'\nline 2,\"quoted\"", "2026-11-28T10:03:00Z"),
          ErrorRecord(SUTS[1].id, "6.8.0-baseline", "boot", "no shell after 120 s")]


def samples() -> list[Sample]:
    out = []
    for i, (swp, rc) in enumerate([(p, r) for p in SWPROFILES for r in RESULTCLASSES]):
        for session in range(2):
            for repeat in range(3):
                value = (1 + i) * 1000.0 / 3 + session * math.pi + repeat * 1e-9
                out.append(Sample(SUTS[i % 2].id, swp.id, rc.benchmark, rc.name, session, repeat,
                                  value, f"2026-11-28T10:0{repeat}:00Z"))
    out.append(Sample(SUTS[0].id, "6.9.0", "fp/syscall", "ns_per_call", 7, 0, 5e-324))
    out.append(Sample(SUTS[0].id, "6.9.0", "fp/syscall", "ns_per_call", 7, 1, -1.7976931348623157e308))
    return out


def write(store) -> None:
    for o in SUTS:
        store.put_sut(o)
    for o in SWPROFILES:
        store.put_swprofile(o)
    for o in BENCHMARKS:
        store.put_benchmark(o)
    for o in RESULTCLASSES:
        store.put_resultclass(o)
    for o in SESSIONS:
        store.put_session(o)
    for o in ERRORS:
        store.record_error(o)
    data = samples()
    store.append_sample(data[0])
    assert store.append_samples(data) == len(data) - 1


def snapshot(store) -> dict:
    """Everything a store holds, order-free, for equality across backends."""
    def key(o):
        return repr(o)
    return {"suts": sorted(store.suts(), key=key), "swprofiles": sorted(store.swprofiles(), key=key),
            "benchmarks": sorted(store.benchmarks(), key=key),
            "resultclasses": sorted(store.resultclasses(), key=key),
            "sessions": sorted(store.sessions(), key=key), "errors": sorted(store.errors(), key=key),
            "samples": sorted(store.samples(), key=key)}
