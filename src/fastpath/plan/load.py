"""Load and validate a plan file (schema: docs/plans.md).

    plan = load_plan("plan.yaml")            # -> Plan, or PlanError(file:line: key 'a.b': ...)
    plan = plan_from_mapping(data, "ctx")    # the same from already-parsed data (e.g. a context)
    spec, block = load_sut("pool.yaml")      # a plan's sut block alone (`bisect start --sut-file`)
"""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import re

import yaml

from fastpath.benchmarks.spec import RUN_KEYS, read_benchmark, read_run
from fastpath.plan.check import Checker
from fastpath.plan.doc import Doc, load_doc, parse_doc
from fastpath.plan.model import BOOT_METHODS, Plan, SutSpec, SwProfileSpec
from fastpath.plan.pool import read_pool
from fastpath.sut.transport import Connection

# One kernel command-line word: no blanks, or double quotes around the whole word or the whole
# value after "=" (the forms the kernel's parser and GRUB's quoting both keep intact).
KERNEL_WORD = re.compile(r'[^"\s]+|(?:[^"\s]+=)?"[^"]*"')

LIBRARY = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "library"
BUILTIN_RUN = {"warmups": 1, "repeats": 3, "sessions": 2, "timeout": 3600.0}
SYSCTL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*=[^\n\0]*$")


def load_plan(file: str | pathlib.Path) -> Plan:
    return _read_plan(load_doc(file))


def plan_from_mapping(data: dict, file: str = "<plan>") -> Plan:
    """Validate plan data given as Python objects (line numbers are those of a YAML dump)."""
    return _read_plan(parse_doc(yaml.safe_dump(data, sort_keys=False), file))


def load_sut(file: str | pathlib.Path) -> tuple[SutSpec, dict]:
    """A file holding a plan's ``sut`` block (``sut:`` at the top, as `lab up --count K` writes
    ``<lab home>/pool.yaml``; a whole plan is accepted too, and only its ``sut`` is read),
    checked as a plan's: the SutSpec, and the block as plan data whose file paths (keyfile,
    known_hosts) are absolute, so that it reads the same from another directory (a context)."""
    doc = load_doc(file)
    chk = Checker(doc)
    if doc.data is None:
        chk.fail((), "the file is empty; expected a plan's sut block (sut: {name: ..., ...})")
    chk.mapping((), {"sut", "swprofiles", "benchmarks", "defaults"}, {"sut"})
    spec = _sut(chk)
    block = copy.deepcopy(chk.get(("sut",)))
    params = (block.get("connection") or {}).get("params") or {}
    for key in ("keyfile", "known_hosts"):
        if params.get(key) is not None:
            params[key] = getattr(spec.connection, key)
    for entry, member in zip((block.get("pool") or {}).get("suts") or (), spec.pool.suts if spec.pool else ()):
        for key in ("keyfile", "known_hosts"):
            if entry.get(key) is not None:
                entry[key] = getattr(member.connection, key)
    return spec, block


def _read_plan(doc: Doc) -> Plan:
    chk = Checker(doc)
    if doc.data is None:
        chk.fail((), "the plan is empty")
    chk.mapping((), {"sut", "swprofiles", "benchmarks", "defaults"},
                {"sut", "swprofiles", "benchmarks"})
    sut = _sut(chk)
    swprofiles = _swprofiles(chk)
    run = dict(BUILTIN_RUN)
    if chk._opt(("defaults",)) is not None:
        chk.mapping(("defaults",), {"benchmark"})
        if chk._opt(("defaults", "benchmark")) is not None:
            chk.mapping(("defaults", "benchmark"), set(RUN_KEYS))
            run.update(read_run(chk, ("defaults", "benchmark")))
    return Plan(sut, swprofiles, _benchmarks(chk, run), file=doc.file)


def _sut(chk: Checker) -> SutSpec:
    p = ("sut",)
    pooled = isinstance(chk.get(p), dict) and chk.get(p).get("pool") is not None
    chk.mapping(p, {"name", "connection", "power_cycle", "boot_method", "boot_timeout", "pool"},
                {"name"} if pooled else {"name", "connection"})
    conn = _connection(chk, p + ("connection",), pooled)
    if pooled and chk._opt(p + ("power_cycle",)) is not None:
        chk.fail(p + ("power_cycle",), "with a pool, each SUT has its own power_cycle")
    return SutSpec(chk.string(p + ("name",)), conn, chk.string(p + ("power_cycle",)),
                   chk.choice(p + ("boot_method",), BOOT_METHODS, "kexec"),
                   chk.duration(p + ("boot_timeout",), 300.0),
                   read_pool(chk, p + ("pool",), conn) if pooled else None)


def _connection(chk: Checker, c: tuple, pooled: bool) -> Connection:
    """``sut.connection``; with a pool it is optional, has no host and gives the defaults."""
    if pooled and chk._opt(c) is None:
        return Connection(host="")
    chk.mapping(c, {"method", "params"}, set() if pooled else {"params"})
    chk.choice(c + ("method",), ("SSH",), "SSH")
    cp = c + ("params",)
    if pooled and chk._opt(cp) is None:
        return Connection(host="")
    chk.mapping(cp, {"host", "user", "port", "keyfile", "known_hosts", "accept_new_host_key",
                     "connect_timeout"}, set() if pooled else {"host"})
    if pooled and chk._opt(cp + ("host",)) is not None:
        chk.fail(cp + ("host",), "a SUT with a pool takes its hosts from the pool")
    port = chk.integer(cp + ("port",), minimum=1)
    if port is not None and port > 65535:
        chk.fail(cp + ("port",), "must be a TCP port (1-65535)")
    return Connection(host=chk.string(cp + ("host",), ""), user=chk.string(cp + ("user",)),
                      port=port, keyfile=chk.file(cp + ("keyfile",)),
                      known_hosts=chk.file(cp + ("known_hosts",), must_exist=False),
                      accept_new_host_key=chk.boolean(cp + ("accept_new_host_key",)),
                      connect_timeout=chk.integer(cp + ("connect_timeout",), 10, minimum=1))


def _swprofiles(chk: Checker) -> tuple[SwProfileSpec, ...]:
    items = chk.get(("swprofiles",))
    if not isinstance(items, list) or not items:
        chk.fail(("swprofiles",), "expected a non-empty list of swprofiles")
    out, names = [], set()
    for i in range(len(items)):
        p = ("swprofiles", i)
        chk.mapping(p, {"name", "kernel", "modules", "kernel_git_sha", "cmdline", "sysctl",
                        "bootscript"}, {"name"})
        name = chk.string(p + ("name",))
        if name in names:
            chk.fail(p + ("name",), f"duplicate swprofile name '{name}'")
        names.add(name)
        cmdline = chk.strings(p + ("cmdline",))
        for j, word in enumerate(cmdline):
            if not KERNEL_WORD.fullmatch(word) or any(ord(c) < 32 or ord(c) == 127 for c in word):
                chk.fail(p + ("cmdline", j), "each cmdline entry must be one kernel word: no control "
                         'characters, blanks only inside double quotes around a whole value '
                         '(dyndbg="file x.c +p") or word')
        sysctl = chk.strings(p + ("sysctl",))
        for j, line in enumerate(sysctl):
            if not SYSCTL.match(line):
                chk.fail(p + ("sysctl", j), f"expected key=value (e.g. kernel.numa_balancing=0), "
                         f"got {line!r}")
        kernel = chk.file(p + ("kernel",))
        modules = chk.file(p + ("modules",))
        if modules and not kernel:
            chk.fail(p + ("modules",), "modules need a kernel")
        out.append(SwProfileSpec(name, kernel, modules,
                                 chk.string(p + ("kernel_git_sha",), "") or "", cmdline, sysctl,
                                 chk.strings(p + ("bootscript",))))
    return tuple(out)


def _benchmarks(chk: Checker, run: dict):
    items = chk.get(("benchmarks",))
    if not isinstance(items, list) or not items:
        chk.fail(("benchmarks",), "expected a non-empty list of benchmarks")
    out, ids = [], set()
    for i in range(len(items)):
        p = ("benchmarks", i)
        item = chk.get(p)
        if isinstance(item, dict) and "include" in item:
            bench = _include(chk, p, run)
        else:
            bench = read_benchmark(chk, p, {}, run)
        if bench.id in ids:
            chk.fail(p, f"benchmark {bench.id} appears twice")
        ids.add(bench.id)
        out.append(bench)
    return tuple(out)


def _include(chk: Checker, p: tuple, run: dict):
    chk.mapping(p, {"include", "params", *RUN_KEYS}, {"include"})
    name = chk.string(p + ("include",))
    here = pathlib.Path(chk.doc.file).resolve().parent
    given = pathlib.Path(name).expanduser()
    candidates = [given] if given.is_absolute() else [here / given, LIBRARY / given]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        chk.fail(p + ("include",), f"benchmark file '{name}' not found next to the plan or in "
                 f"the benchmark library ({LIBRARY})")
    overrides = {}
    if chk._opt(p + ("params",)) is not None:
        value = chk.get(p + ("params",))
        if not isinstance(value, dict):
            chk.fail(p + ("params",), "expected a mapping of parameter values")
        for key, v in value.items():
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                chk.fail(p + ("params", key), "expected a string or number")
        overrides = value
    sub = Checker(load_doc(found))
    known = sub._opt(("params",))
    known = known if isinstance(known, dict) else {}
    for key in overrides:
        if key not in known:
            chk.fail(p + ("params", key), f"unknown parameter for {name} "
                     f"(known: {', '.join(sorted(known)) or 'none'})")
    bench = read_benchmark(sub, (), overrides, run)
    own = read_run(chk, p)
    return dataclasses.replace(bench, **own) if own else bench
