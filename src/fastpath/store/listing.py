"""`result list`: the SUTs, swprofiles or benchmarks of a store, as a table."""

from __future__ import annotations

import dataclasses
import fnmatch
import json

from fastpath.errors import UserError
from fastpath.store import open_store

KINDS = ("sut", "swprofile", "benchmark")
_COLUMNS = {
    "sut": ("id", "architecture", "cpu_count", "cpu_model", "numa_nodes", "memory", "host_name",
            "product_name"),
    "swprofile": ("id", "kernel_name", "kernel_git_sha", "cmdline", "sysctl", "bootscript", "userspace"),
    "benchmark": ("id", "params", "resultclasses"),
}


def list_objects(url: str, kind: str, pattern: str | None = None) -> list[dict]:
    """Objects of ``kind`` whose id matches the glob ``pattern``, as {column: text} rows.

    UserError when the store holds none, or none match."""
    if kind not in KINDS:
        raise UserError(f"--object must be one of {', '.join(KINDS)}, not '{kind}'")
    with open_store(url, readonly=True) as store:
        objects = {"sut": store.suts, "swprofile": store.swprofiles,
                   "benchmark": store.benchmarks}[kind]()
        resultclasses = store.resultclasses() if kind == "benchmark" else []
        shown = store.url
    if not objects:
        raise UserError(f"store {shown} holds no {kind}")
    chosen = sorted((o for o in objects if pattern is None or fnmatch.fnmatchcase(o.id, pattern)),
                    key=lambda o: o.id)
    if not chosen:
        raise UserError(f"no {kind} matches --id '{pattern}' in {shown} "
                        f"(it holds: {', '.join(sorted(o.id for o in objects)[:10])})")
    rows = []
    for obj in chosen:
        row = {k: _text(v) for k, v in dataclasses.asdict(obj).items()}
        if kind == "benchmark":
            row["resultclasses"] = " ".join(
                f"{r.name}[{r.unit},{r.improvement}]" for r in resultclasses if r.benchmark == obj.id)
        rows.append({c: row.get(c, "") for c in _COLUMNS[kind]})
    return rows


def _text(value) -> str:
    """One table cell: list items joined by '; ', newlines shown as \\n."""
    if isinstance(value, (tuple, list)):
        value = "; ".join(value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True) if value else ""
    return str(value).replace("\n", "\\n")


def format_table(rows: list[dict]) -> str:
    """Aligned columns with a header row."""
    if not rows:
        return ""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)
