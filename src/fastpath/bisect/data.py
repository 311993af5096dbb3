"""Reading what a bisection needs from a result store: per-session values of one result class."""

from __future__ import annotations

from fastpath.analysis.stats import session_means
from fastpath.store.base import Store


def session_values(store: Store, sut: str, swprofile: str, benchmark: str, resultclass: str) -> list[float]:
    """One value per session (the mean of its repeats), in session order; [] when none."""
    cols = store.sample_columns(sut=sut, swprofiles=[swprofile], benchmark=benchmark,
                                resultclass=resultclass)
    if not len(cols):
        return []
    return [float(v) for v in session_means(cols.value, cols.session)]


def sessions_with_samples(store: Store, sut: str, swprofile: str, benchmark: str, resultclass: str) -> set[int]:
    cols = store.sample_columns(sut=sut, swprofiles=[swprofile], benchmark=benchmark,
                                resultclass=resultclass)
    return {int(s) for s in cols.session} if len(cols) else set()


def repeats_per_session(store: Store, sut: str, swprofile: str, benchmark: str, resultclass: str) -> int:
    """The most repeats any session of this swprofile recorded (how the baselines were run)."""
    cols = store.sample_columns(sut=sut, swprofiles=[swprofile], benchmark=benchmark,
                                resultclass=resultclass)
    if not len(cols):
        return 0
    counts: dict[int, int] = {}
    for s in cols.session:
        counts[int(s)] = counts.get(int(s), 0) + 1
    return max(counts.values())
