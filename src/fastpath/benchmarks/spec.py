"""A benchmark definition: what to check on the SUT, what to run, how to read the output.

Library files live in ``benchmarks/library/<suite>/<name>.yaml``; a plan includes them
(``include: sysbench/thread.yaml``) or writes the same object inline. Keys::

    suite: sysbench                 # required
    name: thread                    # required; the benchmark id is suite/name
    description: one line
    check: [sysbench, --version]    # a command that succeeds when the benchmark is installed
    params: {threads: 2, yields: 110}          # defaults, overridable per plan
    command: [sysbench, threads, "--threads={threads}", "--thread-yields={yields}", run]
    parser: sysbench                # a name registered in benchmarks/parsers.py
    resultclasses:                  # one per reported metric
      - {name: "sysbenchthread-{yields}", metric: events_per_second, unit: events/s,
         improvement: higher}

``{param}`` in command words and result class names is replaced by the parameter's value.
A plan may also set warmups, repeats, sessions and timeout per benchmark.
"""

from __future__ import annotations

import dataclasses
import re

from fastpath.benchmarks.parsers import PARSERS, ParseError
from fastpath.plan.check import Checker

BENCH_KEYS = {"suite", "name", "description", "check", "params", "command", "parser",
              "resultclasses", "warmups", "repeats", "sessions", "timeout"}
RUN_KEYS = ("warmups", "repeats", "sessions", "timeout")
_FIELD = re.compile(r"\{(\w+)\}")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclasses.dataclass(frozen=True)
class ResultClassSpec:
    name: str           # rendered, e.g. "sysbenchthread-110"
    metric: str         # the parser's key
    unit: str
    improvement: str    # "higher" or "lower"


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    suite: str
    name: str
    command: tuple[str, ...]         # rendered argv
    parser: str
    resultclasses: tuple[ResultClassSpec, ...]
    params: dict = dataclasses.field(default_factory=dict, hash=False)
    check: tuple[str, ...] = ()
    description: str = ""
    warmups: int = 1
    repeats: int = 3
    sessions: int = 2
    timeout: float = 3600.0
    source: str = ""                 # file it was defined in

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"

    def parse(self, output: str) -> dict[str, float]:
        """{result class name: value} from one run's output; ParseError when incomplete."""
        metrics = PARSERS[self.parser](output)
        out = {}
        for rc in self.resultclasses:
            if rc.metric not in metrics:
                raise ParseError(f"parser '{self.parser}' found no '{rc.metric}' "
                                 f"for result class {rc.name}")
            out[rc.name] = metrics[rc.metric]
        return out


def read_benchmark(chk: Checker, path: tuple, overrides: dict, run: dict,
                   override_path: tuple = ()) -> BenchmarkSpec:
    """Validate the benchmark object at ``path`` of chk's document.

    ``overrides`` are plan-level parameter values (already validated as scalars),
    ``run`` the warmups/repeats/sessions/timeout in force before this object's own."""
    chk.mapping(path, BENCH_KEYS, {"suite", "name", "command", "parser", "resultclasses"})
    suite, name = chk.string(path + ("suite",)), chk.string(path + ("name",))
    for key, value in (("suite", suite), ("name", name)):
        if not _ID.match(value):
            chk.fail(path + (key,), "use letters, digits and ._+- only")
    params = dict(_params(chk, path + ("params",)))
    for key in overrides:
        if key not in params:
            chk.fail(path + ("params",), f"plan sets unknown parameter '{key}' "
                     f"(known: {', '.join(sorted(params)) or 'none'})")
    params.update(overrides)
    parser_name = chk.string(path + ("parser",))
    if parser_name not in PARSERS:
        chk.fail(path + ("parser",), f"unknown parser '{parser_name}' "
                 f"(known: {', '.join(sorted(PARSERS))})")
    command = tuple(_render(chk, path + ("command", i), w, params)
                    for i, w in enumerate(chk.strings(path + ("command",))))
    if not command:
        chk.fail(path + ("command",), "must not be empty")
    check = tuple(_render(chk, path + ("check", i), w, params)
                  for i, w in enumerate(chk.strings(path + ("check",))))
    run = dict(run)
    run.update(read_run(chk, path))
    return BenchmarkSpec(suite, name, command, parser_name,
                         _resultclasses(chk, path + ("resultclasses",), params),
                         params=params, check=check,
                         description=chk.string(path + ("description",), "") or "",
                         source=chk.doc.file, **run)


def read_run(chk: Checker, path: tuple) -> dict:
    """warmups/repeats/sessions/timeout present at path (only those given)."""
    out = {}
    for key in RUN_KEYS:
        if chk._opt(path + (key,)) is None:
            continue
        if key == "timeout":
            out[key] = chk.duration(path + (key,))
        else:
            out[key] = chk.integer(path + (key,), minimum=0 if key == "warmups" else 1)
    return out


def _params(chk: Checker, path: tuple) -> dict:
    if chk._opt(path) is None:
        return {}
    value = chk.mapping(path, set(chk.get(path)) if isinstance(chk.get(path), dict) else set())
    for key, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            chk.fail(path + (key,), "expected a string or number")
    return value


def _render(chk: Checker, path: tuple, template: str, params: dict) -> str:
    for field in _FIELD.findall(template):
        if field not in params:
            chk.fail(path, f"unknown parameter '{{{field}}}'")
    return _FIELD.sub(lambda m: str(params[m.group(1)]), template)


def _resultclasses(chk: Checker, path: tuple, params: dict) -> tuple[ResultClassSpec, ...]:
    items = chk.get(path)
    if not isinstance(items, list) or not items:
        chk.fail(path, "expected a non-empty list of result classes")
    out, seen = [], set()
    for i in range(len(items)):
        p = path + (i,)
        chk.mapping(p, {"name", "metric", "unit", "improvement"}, {"name", "metric", "improvement"})
        rc = ResultClassSpec(_render(chk, p + ("name",), chk.string(p + ("name",)), params),
                             chk.string(p + ("metric",)), chk.string(p + ("unit",), "") or "",
                             chk.choice(p + ("improvement",), ("higher", "lower")))
        if rc.name in seen:
            chk.fail(p + ("name",), f"duplicate result class '{rc.name}'")
        seen.add(rc.name)
        out.append(rc)
    return tuple(out)
