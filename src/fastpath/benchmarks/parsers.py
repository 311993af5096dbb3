"""Result parsers: benchmark output text -> {metric: value}.

A parser is a function ``(stdout: str) -> dict[str, float]`` registered under a name with
``@parser("name")``; a benchmark YAML names it in ``parser:`` and maps its metrics to result
classes. A parser raises ParseError when the output lacks what it needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PARSERS: dict[str, Callable[[str], dict[str, float]]] = {}


class ParseError(ValueError):
    """The output does not contain the values the parser looks for."""


def parser(name: str):
    def register(fn):
        PARSERS[name] = fn
        return fn
    return register


def _number(text: str, pattern: str, what: str) -> float:
    m = re.search(pattern, text, re.MULTILINE)
    if not m:
        raise ParseError(f"no {what} in output")
    return float(m.group(1))


def _sysbench_general(text: str) -> dict[str, float]:
    seconds = _number(text, r"^\s*total time:\s*([0-9.]+)s", "'total time'")
    events = _number(text, r"^\s*total number of events:\s*([0-9.]+)", "'total number of events'")
    out = {"total_time_s": seconds, "events": events,
           "latency_avg_ms": _number(text, r"^\s*avg:\s*([0-9.]+)", "'avg' latency")}
    if seconds > 0:
        out["events_per_second"] = events / seconds
    return out


@parser("sysbench")
def sysbench(text: str) -> dict[str, float]:
    """sysbench 1.0 output of any test: total time, events, events/s, avg latency, and for
    cpu ``events per second``, for memory ``MiB/sec``."""
    out = _sysbench_general(text)
    m = re.search(r"^\s*events per second:\s*([0-9.]+)", text, re.MULTILINE)
    if m:
        out["events_per_second"] = float(m.group(1))
    m = re.search(r"\(([0-9.]+) MiB/sec\)", text)
    if m:
        out["mib_per_second"] = float(m.group(1))
    return out


@parser("hackbench")
def hackbench(text: str) -> dict[str, float]:
    """hackbench (rt-tests or perf bench sched messaging): ``Time: 0.123`` seconds."""
    return {"time_s": _number(text, r"^\s*(?:Time:|Total time:)\s*([0-9.]+)", "'Time:'")}


@parser("keyvalue")
def keyvalue(text: str) -> dict[str, float]:
    """``name k1=v1 k2=v2`` lines (fp-syscall, fp-pipe): every numeric value by key; the
    last line wins when a key repeats."""
    out = {}
    for key, value in re.findall(r"(\w+)=([-+0-9.eE]+)\b", text):
        try:
            out[key] = float(value)
        except ValueError:
            continue
    if not out:
        raise ParseError("no key=value pairs in output")
    return out
