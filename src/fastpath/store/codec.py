"""Flat rows for the model objects, shared by the CSV and SQL backends.

Each object table has the columns of its dataclass, in field order. Tuples (cmdline,
sysctl, bootscript) and dicts (benchmark params) are stored as compact JSON text, so a
person can read them in a CSV file and every backend holds the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)

# table name -> model class, for every table holding whole objects
OBJECT_TABLES = {"suts": Sut, "swprofiles": SwProfile, "benchmarks": Benchmark,
                 "resultclasses": ResultClass, "sessions": Session, "errors": ErrorRecord}
SAMPLE_COLUMNS = tuple(f.name for f in dataclasses.fields(Sample))


def columns(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _kind(cls, name: str):
    return {f.name: f.type for f in dataclasses.fields(cls)}[name]


def to_row(obj) -> dict:
    """Object -> {column: str | int | float}; JSON text for tuples and dicts."""
    row = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, (tuple, list, dict)):
            value = json.dumps(list(value) if not isinstance(value, dict) else value,
                               separators=(",", ":"), sort_keys=True)
        row[f.name] = value
    return row


def from_row(cls, row) -> object:
    """{column: value} (strings from CSV or typed values from SQL) -> object.

    Raises ValueError (with the column name) when a value does not parse."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        value = row[f.name]
        kind = str(f.type)
        try:
            if kind.startswith("tuple"):
                value = tuple(json.loads(value)) if value not in ("", None) else ()
            elif kind == "dict":
                value = json.loads(value) if value not in ("", None) else {}
            elif kind == "int":
                value = int(value)
            elif kind == "float":
                value = float(value)
            else:
                value = "" if value is None else str(value)
        except (ValueError, TypeError) as err:
            raise ValueError(f"column '{f.name}': cannot parse {value!r}: {err}") from None
        kwargs[f.name] = value
    return cls(**kwargs)


def key(obj) -> tuple:
    """The identity of an object (see model.py)."""
    if isinstance(obj, (Sut, SwProfile, Benchmark)):
        return (obj.id,)
    if isinstance(obj, ResultClass):
        return (obj.benchmark, obj.name)
    if isinstance(obj, Session):
        return (obj.sut, obj.swprofile, obj.session)
    if isinstance(obj, Sample):
        return (obj.sut, obj.swprofile, obj.benchmark, obj.resultclass, obj.session, obj.repeat)
    if isinstance(obj, ErrorRecord):
        return (error_digest(obj),)
    raise TypeError(f"not a store object: {obj!r}")


def error_digest(error: ErrorRecord) -> str:
    """Content hash of an error record: its identity (merging it twice keeps one)."""
    text = json.dumps(to_row(error), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()


def first_difference(old, new) -> str:
    """'field: old vs new' for the first field that differs, for conflict messages."""
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            return f"{f.name} {a!r} vs {b!r}"
    return ""
