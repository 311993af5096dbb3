"""`result list`: the SUTs, swprofiles, benchmarks or recorded errors of a store.

``list_objects`` returns plain rows (JSON-ready values); ``format_table`` and
``format_errors`` turn them into the text `result list` prints. Ids sort naturally
(bench2 before bench12). Swprofile rows carry their session and sample counts.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections import defaultdict

import numpy as np

from fastpath.errors import UserError
from fastpath.natsort import natural_key
from fastpath.store import open_store

KINDS = ("sut", "swprofile", "benchmark", "error")
_COLUMNS = {
    "sut": ("id", "architecture", "cpu_count", "cpu_model", "numa_nodes", "memory", "host_name",
            "product_name"),
    "swprofile": ("id", "kernel_name", "kernel_git_sha", "cmdline", "sysctl", "bootscript",
                  "userspace", "sessions", "incomplete", "samples"),
    "benchmark": ("id", "params", "resultclasses"),
    "error": ("timestamp", "sut", "swprofile", "session", "stage", "benchmark", "message",
              "output"),
}


def list_objects(url: str, kind: str, pattern: str | None = None) -> list[dict]:
    """Objects of ``kind`` whose id (for errors: swprofile) matches the glob ``pattern``, as
    {column: value} rows in natural order of id (errors: in time order).

    Swprofiles get ``sessions`` (sessions with samples or a session record), ``incomplete``
    (of those, recorded as failed or running) and ``samples``. UserError when the store holds
    none, or none match (a store with no error record gives [] for errors)."""
    if kind not in KINDS:
        raise UserError(f"{{kind}} must be one of {', '.join(KINDS)}, not '{kind}'", params=("kind",))
    with open_store(url, readonly=True) as store:
        shown = store.url
        if kind == "error":
            return _errors(store, pattern)
        objects = {"sut": store.suts, "swprofile": store.swprofiles,
                   "benchmark": store.benchmarks}[kind]()
        if not objects:
            raise UserError(f"store {shown} holds no {kind}")
        chosen = sorted((o for o in objects if pattern is None or fnmatch.fnmatchcase(o.id, pattern)),
                        key=lambda o: natural_key(o.id))
        if not chosen:
            raise UserError(f"no {kind} matches {{pattern}} '{pattern}' in {shown} "
                            f"(it holds: {', '.join(sorted(o.id for o in objects)[:10])})", params=("pattern",))
        rows = [dataclasses.asdict(o) for o in chosen]
        if kind == "benchmark":
            classes = store.resultclasses()
            for row in rows:
                row["resultclasses"] = [{"name": r.name, "unit": r.unit,
                                         "improvement": r.improvement}
                                        for r in classes if r.benchmark == row["id"]]
        if kind == "swprofile":
            counts = _counts(store, [o.id for o in chosen])
            for row in rows:
                row.update(counts.get(row["id"], {"sessions": 0, "incomplete": 0, "samples": 0}))
    return [{c: row.get(c, "") for c in _COLUMNS[kind]} for row in rows]


def _counts(store, swprofiles: list[str]) -> dict[str, dict[str, int]]:
    """{swprofile: {sessions, incomplete, samples}} from one aggregate query and the sessions
    table (no sample is read)."""
    aggs = store.session_aggregates(swprofiles=swprofiles)
    samples: dict[str, int] = defaultdict(int)
    sessions: dict[str, set] = defaultdict(set)
    for (_, _, sw, sut), idx in aggs.groups().items():
        samples[sw] += int(np.sum(aggs.count[idx]))
        sessions[sw].update((sut, int(s)) for s in aggs.session[idx])
    incomplete: dict[str, int] = defaultdict(int)
    for sw in swprofiles:
        for s in store.sessions(swprofile=sw):
            sessions[sw].add((s.sut, s.session))
            incomplete[sw] += s.status != "complete"
    return {sw: {"sessions": len(sessions[sw]), "incomplete": incomplete[sw],
                 "samples": samples[sw]} for sw in swprofiles}


def _errors(store, pattern: str | None) -> list[dict]:
    errors = store.errors()
    if not errors:
        return []               # good news, not bad input
    chosen = [e for e in errors if pattern is None or fnmatch.fnmatchcase(e.swprofile, pattern)]
    if not chosen:
        raise UserError(f"no error record of a swprofile matching {{pattern}} '{pattern}' in {store.url} "
                        f"(errors of: {', '.join(sorted({e.swprofile for e in errors})[:10])})", params=("pattern",))
    chosen.sort(key=lambda e: (e.timestamp, natural_key(e.sut), natural_key(e.swprofile),
                               e.session, e.stage))
    return [{c: getattr(e, c) for c in _COLUMNS["error"]} for e in chosen]


def _text(value) -> str:
    """One table cell: list items joined by '; ', newlines shown as \\n."""
    if isinstance(value, (tuple, list)):
        value = "; ".join(_text(v) for v in value)
    elif isinstance(value, dict):
        if set(value) == {"name", "unit", "improvement"}:      # a result class
            value = f"{value['name']}[{value['unit']},{value['improvement']}]"
        else:
            value = json.dumps(value, sort_keys=True) if value else ""
    return str(value).replace("\n", "\\n")


def format_table(rows: list[dict]) -> str:
    """Aligned columns with a header row."""
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [{c: _text(r[c]) for c in columns} for r in rows]
    if "resultclasses" in columns:            # one benchmark's classes: space-separated
        for cell, row in zip(cells, rows):
            cell["resultclasses"] = " ".join(_text(r) for r in row["resultclasses"])
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in cells]
    return "\n".join(lines)


def format_errors(rows: list[dict]) -> str:
    """One line per error record, then its captured output indented (or "(no output)")."""
    if not rows:
        return "no error records"
    lines = []
    for e in rows:
        where = f"session {e['session']}" if e["session"] >= 0 else "no session"
        bench = f" {e['benchmark']}" if e["benchmark"] else ""
        lines.append(f"{e['timestamp'] or '-'}  {e['sut']}  {e['swprofile']}  {where}  "
                     f"{e['stage']}{bench}: {e['message']}")
        output = e["output"].rstrip("\n")
        lines += ["    " + x for x in output.split("\n")] if output else ["    (no output)"]
    return "\n".join(lines)


def format_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)
