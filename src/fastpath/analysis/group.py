"""Group columnar samples by (benchmark, result class, SUT): pure numpy, no I/O.

A million samples group in well under a second: string columns are coded through a dict
(faster than ``np.unique`` on strings), the codes are combined into one integer key, and one
stable argsort splits the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Group:
    """The samples of one (benchmark, result class, SUT) for one swprofile."""

    benchmark: str
    resultclass: str
    sut: str
    values: np.ndarray            # float64
    sessions: np.ndarray          # int64, session index of each value


def factorize(column: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Integer codes for a column of strings, and the distinct strings in first-seen order."""
    seen: dict[str, int] = {}
    codes = np.fromiter((seen.setdefault(x, len(seen)) for x in column), dtype=np.int64,
                        count=len(column))
    return codes, list(seen)


def group_samples(benchmark: Sequence[str], resultclass: Sequence[str], sut: Sequence[str],
                  session, value) -> list[Group]:
    """Split parallel columns (one entry per sample) into groups, ordered by their key."""
    values = np.asarray(value, dtype=np.float64)
    sessions = np.asarray(session, dtype=np.int64)
    if values.size == 0:
        return []
    b, bnames = factorize(benchmark)
    r, rnames = factorize(resultclass)
    s, snames = factorize(sut)
    key = (b * len(rnames) + r) * len(snames) + s
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    ends = np.r_[starts[1:], key_sorted.size]
    groups = []
    for start, end in zip(starts, ends):
        k = int(key_sorted[start])
        k, si = divmod(k, len(snames))
        bi, ri = divmod(k, len(rnames))
        idx = order[start:end]
        groups.append(Group(bnames[bi], rnames[ri], snames[si], values[idx], sessions[idx]))
    return sorted(groups, key=lambda g: (g.benchmark, g.resultclass, g.sut))
