"""``sut.pool`` of a plan (schema: docs/plans.md, "A pool of SUTs").

    pool:
      suts:                                   # a static list of identical SUTs
        - {name: altra-1, host: 10.0.0.11}
        - {name: altra-2, host: 10.0.0.12, port: 2222, power_cycle: "pdu-ctl 2 cycle"}
      count: 2                                # optional: use this many (default all)
or
    pool:
      labgrid: {coordinator: "lab.example:20408", tags: {board: altra}, count: 2, wait: 2h, prio: 0}

Fields a member leaves out (user, port, keyfile, known_hosts) come from ``sut.connection.params``.
"""

from __future__ import annotations

import dataclasses
import re

from fastpath.plan.check import Checker
from fastpath.plan.model import PoolMember, PoolSpec
from fastpath.sut.transport import Connection

MEMBER_KEYS = {"name", "host", "user", "port", "keyfile", "known_hosts", "power_cycle"}
TAG_KEY = re.compile(r"[a-z][a-z0-9_]+")      # labgrid's rule (labgrid.remote.common.TAG_KEY)
TAG_VALUE = re.compile(r"[A-Za-z0-9_.-]+")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def read_pool(chk: Checker, path: tuple, base: Connection) -> PoolSpec:
    chk.mapping(path, {"suts", "labgrid", "count"})
    given = chk.get(path)
    if ("suts" in given) == ("labgrid" in given):
        chk.fail(path, "expected exactly one of 'suts' (a static list) or 'labgrid'")
    if "labgrid" in given:
        if "count" in given:
            chk.fail(path + ("count",), "give the count inside 'labgrid'")
        return _labgrid(chk, path + ("labgrid",))
    return _static(chk, path, base)


def _static(chk: Checker, path: tuple, base: Connection) -> PoolSpec:
    items = chk.get(path + ("suts",))
    if not isinstance(items, list) or not items:
        chk.fail(path + ("suts",), "expected a non-empty list of SUTs")
    members, names = [], set()
    for i in range(len(items)):
        p = path + ("suts", i)
        chk.mapping(p, MEMBER_KEYS, {"name", "host"})
        name = chk.string(p + ("name",))
        if not NAME.fullmatch(name):
            chk.fail(p + ("name",), "letters, digits, '.', '_' and '-' only")
        if name in names:
            chk.fail(p + ("name",), f"duplicate SUT name '{name}' in the pool")
        names.add(name)
        port = chk.integer(p + ("port",), base.port, minimum=1)
        if port is not None and port > 65535:
            chk.fail(p + ("port",), "must be a TCP port (1-65535)")
        conn = dataclasses.replace(
            base, host=chk.string(p + ("host",)), user=chk.string(p + ("user",), base.user),
            port=port, keyfile=chk.file(p + ("keyfile",), base.keyfile),
            known_hosts=chk.file(p + ("known_hosts",), base.known_hosts, must_exist=False))
        members.append(PoolMember(name, conn, chk.string(p + ("power_cycle",))))
    count = chk.integer(path + ("count",), 0, minimum=1)
    if count > len(members):
        chk.fail(path + ("count",), f"the pool lists only {len(members)} SUTs")
    return PoolSpec(suts=tuple(members), count=count)


def _labgrid(chk: Checker, path: tuple) -> PoolSpec:
    chk.mapping(path, {"coordinator", "tags", "count", "wait", "prio"},
                {"coordinator", "tags", "count"})
    coordinator = chk.string(path + ("coordinator",))
    host, sep, port = coordinator.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        chk.fail(path + ("coordinator",), f"expected HOST:PORT, got {coordinator!r}")
    tags = chk.get(path + ("tags",))
    if not isinstance(tags, dict) or not tags:
        chk.fail(path + ("tags",), "expected a mapping of place tags, e.g. {board: altra}")
    pairs = []
    for key, value in tags.items():
        value = chk.string(path + ("tags", key))
        if not isinstance(key, str) or not TAG_KEY.fullmatch(key):
            chk.fail(path + ("tags", key), "a labgrid tag key: lowercase letters, digits and '_', "
                     "starting with a letter")
        if not TAG_VALUE.fullmatch(value):
            chk.fail(path + ("tags", key), "a tag value: letters, digits, '.', '_' and '-'")
        pairs.append((key, value))
    return PoolSpec(coordinator=coordinator, tags=tuple(sorted(pairs)),
                    count=chk.integer(path + ("count",), minimum=1),
                    wait=chk.duration(path + ("wait",)), prio=_prio(chk, path + ("prio",)))


def _prio(chk: Checker, path: tuple) -> float:
    value = chk._opt(path)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        chk.fail(path, "expected a number (labgrid reservation priority, default 0)")
    return float(value)
