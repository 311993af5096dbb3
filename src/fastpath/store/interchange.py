"""The sample interchange format (DESIGN.md section 3): `result import` and sample export.

CSV with a header row, or JSON (a list of objects with the same keys):

    sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value
    [,kernel_git_sha][,timestamp]                      optional extra columns

``improvement`` is ``higher`` or ``lower``; ``session`` and ``repeat`` are integers >= 0;
``value`` a finite number. Import validates the whole file first and writes nothing if any
row is bad (UserError naming file:line and column); then it creates the SUTs, swprofiles,
benchmarks and result classes the rows name (when absent) and appends the samples,
skipping those already in the store, all in one ``Store.transaction()``: a failed or killed
import leaves nothing behind (a deadlock victim is run again). A JSON file is ``.json`` or starts with ``[``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from fastpath.errors import UserError
from fastpath.store import open_store
from fastpath.store.base import Store, retried
from fastpath.store.model import DIRECTIONS, Benchmark, ResultClass, Sample, Sut, SwProfile

COLUMNS = ("sut", "swprofile", "benchmark", "resultclass", "unit", "improvement", "session",
           "repeat", "value")
OPTIONAL = ("kernel_git_sha", "timestamp")


@dataclass
class ImportReport:
    file: str
    store: str
    rows: int
    new: int
    objects_new: int

    def summary(self) -> str:
        return (f"imported {self.new} new samples ({self.rows - self.new} already present) and "
                f"{self.objects_new} new objects from {self.file} into {self.store}")


def read_rows(path: str) -> Iterator[tuple[str, dict]]:
    """(where, {column: text}) for every row; where is 'file:line'."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read: {err}") from None
    if path.endswith(".json") or text.lstrip().startswith("["):
        yield from _json_rows(path, text)
    else:
        yield from _csv_rows(path, text)


def _csv_rows(path: str, text: str) -> Iterator[tuple[str, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            raise UserError(f"{path}:1: empty file, expected the header {','.join(COLUMNS)}")
        header = [h.strip() for h in header]
        _check_keys(f"{path}:1", header, "column")
        for row in reader:
            if not row:
                continue
            where = f"{path}:{reader.line_num}"
            if len(row) != len(header):
                raise UserError(f"{where}: {len(row)} fields, the header has {len(header)}")
            yield where, dict(zip(header, row))
    except csv.Error as err:
        raise UserError(f"{path}:{reader.line_num}: {err}") from None


def _json_rows(path: str, text: str) -> Iterator[tuple[str, dict]]:
    decoder, pos, line, counted = json.JSONDecoder(), 0, 1, 0

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    def fail(p: int, message: str):
        raise UserError(f"{path}:{text.count(chr(10), 0, p) + 1}: {message}")

    pos = skip(pos)
    if not text.startswith("[", pos):
        fail(pos, "expected a JSON list of sample objects")
    pos = skip(pos + 1)
    while not text.startswith("]", pos):
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            fail(err.pos, f"invalid JSON: {err.msg}")
        if not isinstance(item, dict):
            fail(pos, "each item must be an object with keys " + ",".join(COLUMNS))
        where = f"{path}:{line}"
        _check_keys(where, list(item), "key")
        yield where, {k: "" if v is None else str(v) if not isinstance(v, float) else repr(v)
                      for k, v in item.items()}
        pos = skip(end)
        if text.startswith(",", pos):
            pos = skip(pos + 1)
        elif not text.startswith("]", pos):
            fail(pos, "expected ',' or ']' after an item")
    if skip(pos + 1) != len(text):
        fail(pos + 1, "unexpected text after the JSON list")


def _check_keys(where: str, keys: list[str], what: str) -> None:
    for k in keys:
        if k not in COLUMNS and k not in OPTIONAL:
            raise UserError(f"{where}: unknown {what} '{k}' (allowed: {','.join(COLUMNS + OPTIONAL)})")
    for k in COLUMNS:
        if k not in keys:
            raise UserError(f"{where}: missing {what} '{k}'")


def parse_row(where: str, row: dict) -> tuple[Sample, ResultClass, str]:
    """(sample, its result class, kernel_git_sha) from one row; UserError names the column."""
    for k in COLUMNS[:6]:
        if not row[k].strip():
            raise UserError(f"{where}: column '{k}' is empty")
    if row["improvement"] not in DIRECTIONS:
        raise UserError(f"{where}: column 'improvement' must be higher or lower, not '{row['improvement']}'")
    ints = {}
    for k in ("session", "repeat"):
        try:
            ints[k] = int(row[k])
        except ValueError:
            raise UserError(f"{where}: column '{k}' must be an integer >= 0, not '{row[k]}'") from None
        if ints[k] < 0:
            raise UserError(f"{where}: column '{k}' must be an integer >= 0, not '{row[k]}'")
    try:
        value = float(row["value"])
    except ValueError:
        raise UserError(f"{where}: column 'value' must be a number, not '{row['value']}'") from None
    if not math.isfinite(value):
        raise UserError(f"{where}: column 'value' must be a finite number, not '{row['value']}'")
    sample = Sample(row["sut"], row["swprofile"], row["benchmark"], row["resultclass"],
                    ints["session"], ints["repeat"], value, row.get("timestamp", ""))
    rc = ResultClass(row["benchmark"], row["resultclass"], row["unit"], row["improvement"])
    return sample, rc, row.get("kernel_git_sha", "")


def _conflict(where: str, column: str, what: str, old: str, new: str, source: str) -> UserError:
    return UserError(f"{where}: column '{column}': {what} has {column} '{old}' in {source}, "
                     f"this row says '{new}'")


def load(path: str, store: Store) -> tuple[list, list[Sample]]:
    """Validate the whole file against itself and the store: (new objects, samples)."""
    suts = {o.id for o in store.suts()}
    shas = {o.id: (o.kernel_git_sha, store.url) for o in store.swprofiles()}
    benches = {o.id for o in store.benchmarks()}
    rcs = {(r.benchmark, r.name): (r, store.url) for r in store.resultclasses()}
    seen: dict[tuple, tuple[float, str]] = {}
    objects, samples = [], []
    for where, row in read_rows(path):
        sample, rc, sha = parse_row(where, row)
        if sample.sut not in suts:
            suts.add(sample.sut)
            objects.append(Sut(sample.sut))
        if sample.swprofile not in shas:
            shas[sample.swprofile] = (sha, where)
            objects.append(SwProfile(sample.swprofile, kernel_git_sha=sha))
        elif "kernel_git_sha" in row and shas[sample.swprofile][0] != sha:
            raise _conflict(where, "kernel_git_sha", f"swprofile '{sample.swprofile}'",
                            shas[sample.swprofile][0], sha, shas[sample.swprofile][1])
        if sample.benchmark not in benches:
            benches.add(sample.benchmark)
            suite, _, name = sample.benchmark.rpartition("/")
            objects.append(Benchmark(sample.benchmark, suite, name))
        old = rcs.get((rc.benchmark, rc.name))
        if old is None:
            rcs[(rc.benchmark, rc.name)] = (rc, where)
            objects.append(rc)
        elif old[0] != rc:
            column = "unit" if old[0].unit != rc.unit else "improvement"
            raise _conflict(where, column, f"result class '{rc.benchmark}/{rc.name}'",
                            getattr(old[0], column), getattr(rc, column), old[1])
        key = (sample.sut, sample.swprofile, sample.benchmark, sample.resultclass, sample.session,
               sample.repeat)
        if key in seen:
            if seen[key][0] != sample.value:
                raise UserError(f"{where}: column 'value': the same sample (session {sample.session}, "
                                f"repeat {sample.repeat}) has value {seen[key][0]!r} at {seen[key][1]}")
            continue
        seen[key] = (sample.value, where)
        samples.append(sample)
    if not samples:
        raise UserError(f"{path}: no samples in the file")
    return objects, samples


def import_file(url: str, path: str) -> ImportReport:
    """Import the interchange file at ``path`` into the store at ``url`` (created if absent)."""
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file")
    with open_store(url) as store:
        objects, samples = load(path, store)
        put = {Sut: store.put_sut, SwProfile: store.put_swprofile, Benchmark: store.put_benchmark,
               ResultClass: store.put_resultclass}

        def write() -> int:
            with store.transaction():         # all of the file or nothing of it
                for cls in (Sut, SwProfile, Benchmark, ResultClass):   # benchmarks first
                    for obj in objects:
                        if type(obj) is cls:
                            put[cls](obj)
                return store.append_samples(samples)
        new = retried(write)                  # a deadlock victim is run again, whole
        return ImportReport(path, store.url, len(samples), new, len(objects))


def export_samples(store: Store, out: TextIO, fmt: str = "csv", **filters) -> int:
    """Write the samples of ``store`` (filters as Store.samples) to ``out`` in the interchange
    format, ``fmt`` "csv" or "json", with the optional columns; returns the number written.
    ``import_file`` of the output recreates the same samples."""
    if fmt not in ("csv", "json"):
        raise UserError(f"export format must be csv or json, not '{fmt}'")
    rcs = {(r.benchmark, r.name): r for r in store.resultclasses()}
    shas = {p.id: p.kernel_git_sha for p in store.swprofiles()}
    rows = ({"sut": s.sut, "swprofile": s.swprofile, "benchmark": s.benchmark,
             "resultclass": s.resultclass, "unit": rcs[(s.benchmark, s.resultclass)].unit,
             "improvement": rcs[(s.benchmark, s.resultclass)].improvement, "session": s.session,
             "repeat": s.repeat, "value": s.value, "kernel_git_sha": shas.get(s.swprofile, ""),
             "timestamp": s.timestamp} for s in store.samples(**filters))
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS + OPTIONAL, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "value": repr(row["value"])})
            count += 1
        return count
    out.write("[")
    for row in rows:
        out.write(("," if count else "") + "\n" + json.dumps(row))
        count += 1
    out.write("\n]\n")
    return count


def export_file(url: str, path: str, fmt: str = "csv", swprofiles: list[str] | None = None) -> int:
    """Export the samples of the store at ``url`` (optionally only ``swprofiles``) to ``path``
    ('-' for stdout), as fastpath.outfile.write_text writes (a regular file whole or not at
    all, a FIFO or character device as a stream, nothing else). Returns the sample count."""
    import sys

    from fastpath.outfile import write_text

    with open_store(url, readonly=True) as store:
        if swprofiles:
            known = {p.id for p in store.swprofiles()}
            for swp in swprofiles:
                if swp not in known:
                    raise UserError(f"{{swprofiles}} '{swp}' is not in {store.url}", params=("swprofiles",))
        if path == "-":
            return export_samples(store, sys.stdout, fmt, swprofiles=swprofiles)
        with write_text(path) as f:     # outfile.py: regular files whole or not at all, streams as streams
            return export_samples(store, f, fmt, swprofiles=swprofiles)
