"""Helpers for bisection tests: a result store holding two baselines; bench/ modules."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import platform
import sys

import numpy as np
import pytest

from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, SwProfile, Sut

BENCH = "fp/syscall"
RC = "fpsyscall-getppid"
GOOD_SHA = "1111111111111111111111111111111111111111"
BAD_SHA = "2222222222222222222222222222222222222222"
BENCH_DIR = pathlib.Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str):
    """bench/<name>.py, loaded afresh (bench/ is not a package; its modules import each other
    by name, so bench/ goes on sys.path)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def add_sessions(store, swprofile, means, sut="lab", repeats=3, first=0, seed=0):
    rng = np.random.default_rng(seed)
    for i, m in enumerate(means):
        for r in range(repeats):
            store.append_sample(Sample(sut, swprofile, BENCH, RC, first + i, r,
                                       float(m + 0.01 * rng.standard_normal())))


def make_baseline_store(url, *, good_mean=100.0, bad_mean=110.0, sessions=8, sd=1.0, numa_nodes=1,
                        bad_profile=None, improvement="lower", seed=1, sut_fields=None, suts=("lab",)):
    """Baselines of v-good and v-bad on SUT 'lab' (or their sessions dealt in turn to ``suts``,
    e.g. the members of a pool, 'lab@a' and 'lab@b')."""
    rng = np.random.default_rng(seed)
    with open_store(url) as store:
        # this machine's fingerprint (the tests' SUT is the loopback sshd): bisect start compares
        fields = {"host_name": "lab-vm", "architecture": platform.machine(), "cpu_count": os.cpu_count(),
                  "numa_nodes": numa_nodes, **(sut_fields or {})}
        for sut in suts:
            store.put_sut(Sut(sut, **fields))
        store.put_swprofile(SwProfile("v-good", kernel_name="6.1.0", kernel_git_sha=GOOD_SHA,
                                      userspace="busybox", cmdline=("quiet",)))
        store.put_swprofile(bad_profile or SwProfile("v-bad", kernel_name="6.1.1", kernel_git_sha=BAD_SHA,
                                                     userspace="busybox", cmdline=("quiet",)))
        store.put_benchmark(Benchmark(BENCH, "fp", "syscall", {"iterations": 1000000}))
        store.put_resultclass(ResultClass(BENCH, RC, "ns", improvement))
        for name, mean in (("v-good", good_mean), (bad_profile.id if bad_profile else "v-bad", bad_mean)):
            means = mean + sd * rng.standard_normal(sessions)
            for j, sut in enumerate(suts):
                add_sessions(store, name, means[j::len(suts)], sut=sut)
    return url


@pytest.fixture
def baseline_store(tmp_path):
    return make_baseline_store(f"sqlite:///{tmp_path}/orig.db")
