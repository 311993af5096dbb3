"""Natural sort of names: digits compare as numbers, so bench2 < bench12 (not as text)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key: ``re.split`` keeps text at even and digit runs at odd positions, so parts at
    one position always compare as the same type. Ties (e.g. "a01" and "a1") fall back to
    the text itself, so the order is total."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)) + (name,)


def natural_sorted(names, key=None) -> list:
    """``sorted(names)`` in natural order; ``key`` maps an item to the text (or texts) to sort by."""
    if key is None:
        return sorted(names, key=natural_key)

    def k(item):
        text = key(item)
        return tuple(natural_key(t) for t in text) if isinstance(text, tuple) else natural_key(text)
    return sorted(names, key=k)
