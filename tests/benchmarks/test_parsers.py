"""Parsers on real output captured from the tools (this host and the lab VM: data/)."""

from __future__ import annotations

import pathlib

import pytest

from fastpath.benchmarks.parsers import PARSERS, ParseError
from fastpath.plan import LIBRARY
from fastpath.plan.check import Checker
from fastpath.plan.doc import load_doc
from fastpath.benchmarks.spec import read_benchmark

DATA = pathlib.Path(__file__).parent / "data"
RUN = {"warmups": 1, "repeats": 3, "sessions": 2, "timeout": 3600.0}


def library(name: str, **params):
    return read_benchmark(Checker(load_doc(LIBRARY / name)), (), params, RUN)


@pytest.mark.parametrize("where", ["host", "lab"])
@pytest.mark.parametrize("file,bench,params,expected", [
    ("sysbench-thread", "sysbench/thread.yaml", {}, {"sysbenchthread-110": None}),
    ("sysbench-cpu", "sysbench/cpu.yaml", {"max_prime": 2000}, {"sysbenchcpu-2000": None}),
    ("sysbench-mutex", "sysbench/mutex.yaml", {}, {"sysbenchmutex-5000": None}),
    ("sysbench-memory", "sysbench/memory.yaml", {}, {"sysbenchmemory-4K": None}),
    ("hackbench", "hackbench/messaging.yaml", {}, {"hackbench-2gprocess": None}),
])
def test_library_parses_real_output(where, file, bench, params, expected):
    spec = library(bench, **params)
    values = spec.parse((DATA / f"{where}-{file}.txt").read_text())
    assert set(values) == set(expected)
    assert all(v > 0 for v in values.values())


def test_exact_values_from_captured_output():
    thread = library("sysbench/thread.yaml").parse((DATA / "host-sysbench-thread.txt").read_text())
    assert thread["sysbenchthread-110"] == pytest.approx(11319 / 2.0032)
    cpu = library("sysbench/cpu.yaml", max_prime=2000).parse((DATA / "lab-sysbench-cpu.txt").read_text())
    assert cpu["sysbenchcpu-2000"] == pytest.approx(1479.22)
    mem = library("sysbench/memory.yaml").parse((DATA / "host-sysbench-memory.txt").read_text())
    assert mem["sysbenchmemory-4K"] == pytest.approx(4334.01)
    hb = library("hackbench/messaging.yaml").parse((DATA / "lab-hackbench.txt").read_text())
    assert hb["hackbench-2gprocess"] == pytest.approx(0.469)
    sc = library("fp/syscall.yaml").parse((DATA / "lab-fp-syscall.txt").read_text())
    assert sc == {"fpsyscall-getppid": pytest.approx(293.68)}
    pp = library("fp/pipe.yaml").parse((DATA / "lab-fp-pipe.txt").read_text())
    assert pp == {"fppipe-roundtrip": pytest.approx(118.305)}


def test_result_class_name_carries_the_parameter():
    assert library("sysbench/thread.yaml", yields=42).resultclasses[0].name == "sysbenchthread-42"
    assert "--thread-yields=42" in library("sysbench/thread.yaml", yields=42).command


@pytest.mark.parametrize("bench", ["sysbench/thread.yaml", "hackbench/messaging.yaml",
                                   "fp/syscall.yaml"])
def test_error_output_is_a_parse_error(bench):
    with pytest.raises(ParseError):
        library(bench).parse((DATA / "lab-sysbench-badoption.txt").read_text())


def test_every_library_file_loads_and_names_a_registered_parser():
    files = sorted(LIBRARY.rglob("*.yaml"))
    assert len(files) >= 7
    for f in files:
        spec = library(str(f.relative_to(LIBRARY)))
        assert spec.parser in PARSERS and spec.check and spec.resultclasses
        assert f"{spec.suite}/{spec.name}.yaml" == str(f.relative_to(LIBRARY))
