"""Reading what a bisection needs from a result store: per-session values of one result class.

A bisection whose plan names a pool (``sut.pool``) takes its sessions on every SUT of the
pool, each under its own store id ``<sut>@<member>`` (fastpath.pool), while the baselines
that `bisect start` copied sit under the context's SUT itself. ``context_suts`` lists the SUT
ids that count: the context's SUT, and with a pool every ``<sut>@<member>`` the store holds
(a labgrid pool's places are known only once leased, so the store says which). The readers
take one SUT id or such a list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fastpath.analysis.stats import session_aggregates, session_means
from fastpath.store.base import Store


def pool_suts(store: Store, sut: str, pooled: bool) -> list[str]:
    """``[sut]``, and with ``pooled`` every SUT id of ``store`` of the form ``<sut>@<member>``
    (in the store's order)."""
    if not pooled:
        return [sut]
    return [sut] + [s.id for s in store.suts() if s.id.startswith(sut + "@")]


def context_suts(ctx, store: Store) -> list[str]:
    """The SUT ids whose sessions count for this bisection context (module docstring)."""
    return pool_suts(store, ctx.sut, "pool" in (ctx.plan.get("sut") or {}))


def _ids(sut: str | Sequence[str]) -> list[str]:
    return [sut] if isinstance(sut, str) else list(sut)


def session_values(store: Store, sut: str | Sequence[str], swprofile: str, benchmark: str,
                   resultclass: str) -> list[float]:
    """One value per session (the mean of its repeats), in session order; [] when none.
    Several SUTs: every session of each, in the order they started (the sessions table's
    ``started``; sessions without a row first), then by SUT as given, then by session."""
    return [v for _, v in sut_session_values(store, sut, swprofile, benchmark, resultclass)]


def sut_session_values(store: Store, sut: str | Sequence[str], swprofile: str, benchmark: str,
                       resultclass: str) -> list[tuple[str, float]]:
    """session_values, each with the id of the SUT that took it: (sut, value)."""
    suts = _ids(sut)
    if len(suts) == 1:
        cols = store.sample_columns(sut=suts[0], swprofiles=[swprofile], benchmark=benchmark,
                                    resultclass=resultclass)
        if not len(cols):
            return []
        return [(suts[0], float(v)) for v in session_means(cols.value, cols.session)]
    keyed = []
    for j, one in enumerate(suts):
        cols = store.sample_columns(sut=one, swprofiles=[swprofile], benchmark=benchmark,
                                    resultclass=resultclass)
        if not len(cols):
            continue
        started = {s.session: s.started for s in store.sessions(sut=one, swprofile=swprofile)}
        ids = np.unique(cols.session)
        means = session_aggregates(cols.value, cols.session)[1]
        keyed += [((started.get(int(i)) or "", j, int(i)), (one, float(m))) for i, m in zip(ids, means)]
    return [v for _, v in sorted(keyed, key=lambda kv: kv[0])]


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
