"""Typed getters over a Doc: each failure is a PlanError naming file, key path and line."""

from __future__ import annotations

import os
import pathlib
import re

from fastpath.plan.doc import Doc, Path

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
                       r"(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(value) -> float | None:
    """Seconds from ``90``, ``90s``, ``30m``, ``1h``, ``1h30m``; None when malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or not value.strip():
        return None
    m = _DURATION.match(value)
    if not m or not any(m.groups()):
        return None
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    total = h * 3600 + mi * 60 + s
    return total if total > 0 else None


class Checker:
    """Validates values of one Doc (the file errors will name)."""

    def __init__(self, doc: Doc):
        self.doc = doc

    def fail(self, path: Path, message: str):
        raise self.doc.error(path, message)

    def get(self, path: Path):
        value = self.doc.data
        for part in path:
            value = value[part]
        return value

    def mapping(self, path: Path, allowed: set[str], required: set[str] = frozenset()) -> dict:
        value = self.get(path)
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                self.fail(path + (key,), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(required):
            if value.get(key) is None:
                self.fail(path + (key,) if key in value else path, f"missing required key '{key}'")
        return value

    def string(self, path: Path, default=None, nonempty: bool = True):
        value = self._opt(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(path, f"expected a string, got {_kind(value)}")
        value = str(value)
        if nonempty and not value.strip():
            self.fail(path, "must not be empty")
        if "\n" in value or "\0" in value:
            self.fail(path, "must be one line")
        return value

    def integer(self, path: Path, default=None, minimum: int = 0):
        value = self._opt(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected an integer, got {_kind(value)}")
        if value < minimum:
            self.fail(path, f"must be at least {minimum}")
        return value

    def boolean(self, path: Path, default=False):
        value = self._opt(path)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def duration(self, path: Path, default=None):
        value = self._opt(path)
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None:
            self.fail(path, f"expected a duration like 90s, 30m or 1h, got {value!r}")
        return seconds

    def choice(self, path: Path, choices: tuple[str, ...], default=None):
        value = self.string(path, default)
        if value is not None and value not in choices:
            self.fail(path, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def strings(self, path: Path) -> tuple[str, ...]:
        value = self._opt(path)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(path, f"expected a list of strings, got {_kind(value)}")
        return tuple(self.string(path + (i,)) for i in range(len(value)))

    def file(self, path: Path, default=None, must_exist: bool = True):
        """A local file path: ~ expanded, relative to the document's directory."""
        value = self.string(path, default)
        if value is None:
            return None
        p = pathlib.Path(os.path.expanduser(value))
        if not p.is_absolute():
            p = pathlib.Path(self.doc.file).resolve().parent / p
        if must_exist and not p.is_file():
            self.fail(path, f"file not found: {value}")
        return str(p)

    def _opt(self, path: Path):
        try:
            return self.get(path)
        except (KeyError, IndexError):
            return None


def _kind(value) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"string {value!r}", bool: f"{value}".lower(),
            int: f"number {value}", float: f"number {value}"}.get(type(value), type(value).__name__)
