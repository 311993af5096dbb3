"""The commits a bisection is likely to ask for after the current picks, pure (no I/O).

While the sessions of a round run, the build host can build the kernels of the next round;
which ones that is depends on what the sessions show. ``likely_next(engine, picks, k)``
asks the engine itself: for each way the round can come out it adds a hypothetical session
of every pick to a copy of the engine and collects that copy's ``next(k)``.

The outcomes are those of one change among the picks (the model's own expectation: one
material change per stretch): with the picks in history order q1 < ... < qk, outcome t
puts q1..qt at the level of their good side and the rest at the level of their bad side
(the change lies in (qt, qt+1]). A pick's sides are the fitted levels (``engine.fit()``:
``Fit.points`` / ``Fit.level``, oriented: larger is worse, hence ``engine.sign`` when a
level goes back in as a value) of the tested commits around it: the one before and the one
after for an untested commit, the neighbours for a tested one, its own level for an end.
Outcome t weighs the posterior mass (``engine.answer().posterior``) of the commits it puts
the change at.

The engine's next pick moves with a session's value, not only with its side (a posterior
median moves continuously), so a hypothetical session exactly at a fitted level predicts
near misses. Each outcome is therefore tried at several values (``what_ifs``): ``SPREAD``,
the midpoints of nine equally likely slices of a session's normal spread around its side's
level (sd: the point's fitted noise and its level's sd together), the outcome's weight
shared among them; with several picks the n-th pick takes the offset n places on (their
noise is independent). A commit's score is its chance of being asked for next (the summed
weight of the what-ifs that ask for it); most likely first, ties in outcome order, so a
build queue that builds the list in order builds as many of the likeliest as fit in a
session's time. One what-if is a deepcopy (cheap) and a refit (a few ms at N=1000).

    ahead = likely_next(engine, [12], k=1)     # e.g. [6, 18, 7, 17, ...]: likeliest first
    ahead = likely_next(engine, [12], k=1, ready=built, limit=3)   # the 3 likeliest not built yet
"""

from __future__ import annotations

import copy
from statistics import NormalDist

import numpy as np

from fastpath.bisect.engine import RUNNING, Engine


def _normal_quantiles(m: int) -> tuple[float, ...]:
    """The midpoints of ``m`` equally likely slices of the standard normal."""
    return tuple(round(NormalDist().inv_cdf((j + 0.5) / m), 4) for j in range(m))


SPREAD = _normal_quantiles(9)          # -1.59 .. 1.59 sd: nine equally likely values of a session


def sides(engine: Engine, i: int) -> tuple[float, float]:
    """The fitted (oriented) levels of the good side and the bad side of commit ``i``."""
    return _sides(engine, i)[0]


def _sides(engine: Engine, i: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((good level, bad level), (sd of a session there, on the good side, on the bad side)):
    a session's sd is its point's noise and the level's own uncertainty together."""
    f = engine.fit()
    pts, level = np.asarray(f.points), np.asarray(f.level)
    sd = np.hypot(np.asarray(f.noise, dtype=float), np.asarray(f.level_sd, dtype=float))
    j = int(np.searchsorted(pts, i))
    if j < len(pts) and pts[j] == i:                   # a tested commit
        if i in (0, engine.n - 1):
            return (float(level[j]), float(level[j])), (float(sd[j]), float(sd[j]))   # an end stays
        j0, j1 = j - 1, j + 1
    else:
        j0, j1 = j - 1, j
    return (float(level[j0]), float(level[j1])), (float(sd[j0]), float(sd[j1]))


def _outcomes(engine: Engine, picks: list[int]) -> list[tuple[float, dict[int, tuple[float, float]]]]:
    """outcomes(), with the sd of a session at each pick's level: (weight, {pick: (level, sd)})."""
    order = sorted(dict.fromkeys(picks))
    side = {i: _sides(engine, i) for i in order}
    post = np.asarray(engine.answer().posterior or [0.0] * engine.n, dtype=float)
    bounds = [0] + order + [engine.n - 1]
    out = []
    for t in range(len(order) + 1):
        lo, hi = bounds[t], bounds[t + 1]              # the change in (lo, hi]
        mass = float(post[lo + 1:hi + 1].sum()) if hi > lo else 0.0
        out.append((mass, {i: (side[i][0][0], side[i][1][0]) if n < t else (side[i][0][1], side[i][1][1])
                           for n, i in enumerate(order)}))
    total = sum(w for w, _ in out)
    if total <= 0:
        return [(1.0 / len(out), levels) for _, levels in out]
    return [(w / total, levels) for w, levels in out]


def outcomes(engine: Engine, picks: list[int]) -> list[tuple[float, dict[int, float]]]:
    """(weight, {pick: oriented level}) for each way the round can come out: one change among
    the picks, at each place between them; weights sum to 1."""
    return [(w, {i: level for i, (level, _) in at.items()}) for w, at in _outcomes(engine, picks)]


def what_ifs(engine: Engine, picks: list[int], spread: tuple[float, ...] = SPREAD) -> list[tuple[float, Engine]]:
    """(weight, a copy of ``engine`` with one hypothetical session of every pick) for each
    outcome and each offset of ``spread`` (in sds of a session on that side: each offset
    stands for an equally likely slice of the session's value, the outcome's weight shared
    among them); weights sum to 1. With several picks, the n-th pick (history order) takes
    the offset n places on (the picks' noise is independent, not all high or all low). In a
    pool, each hypothetical session is one of a SUT the engine knows, at its offset
    (``_takers``)."""
    takers = _takers(engine)
    out = []
    for weight, at in _outcomes(engine, picks):
        for j in range(len(spread)):
            what_if = copy.deepcopy(engine)
            for n, (i, (level, sd)) in enumerate(at.items()):
                sut, offset = takers[n % len(takers)]
                what_if.add(i, engine.sign * (level + offset + spread[(j + n) % len(spread)] * sd), sut=sut)
            out.append((weight / len(spread), what_if))
    return out


def _takers(engine: Engine) -> list[tuple[str | None, float]]:
    """Who takes a hypothetical session, and that SUT's fitted offset (oriented): with a pool,
    the SUTs the engine has seen, the most recently used first (the n-th pick goes to the
    n-th), so that a what-if is read as a session of a SUT the model knows, not as one of a
    new, unnamed SUT whose offset would swallow part of it; [(None, 0.0)] with one SUT."""
    order = list(dict.fromkeys(s for s in reversed(engine.sut) if s is not None))
    if not order:
        return [(None, 0.0)]
    f = engine.fit()
    last = {s: k for k, s in enumerate(engine.sut)}
    return [(s, float(f.sut[last[s]]) if f.sut is not None else 0.0) for s in order]


def likely_next(engine: Engine, picks: list[int], k: int = 1, limit: int | None = None,
                spread: tuple[float, ...] = SPREAD, ready=()) -> list[int]:
    """The commits the engine is likely to ask for after a round of ``picks`` (``next(k)``
    of each outcome, most likely first; the picks themselves, ``ready`` (commits built
    already: no build to plan) and untestable commits left out). [] when the engine has
    stopped. ``engine`` is not changed (its copies are).

    ``spread``: the values tried for each outcome's sessions, in sds of a session on that
    side (``what_ifs``; default SPREAD, nine equally likely slices of a normal session; (0,)
    the fitted levels only): the engine's next pick moves with the value, not only with its
    side. A commit's score is its chance of being asked for next (the summed weight of the
    what-ifs that ask for it); ranked by it, ties in outcome order. ``limit``: the first so
    many (e.g. the builds that fit in a session's time)."""
    if not picks or engine.status() != RUNNING:
        return []
    known = set(picks) | set(ready)
    score: dict[int, float] = {}
    for weight, what_if in what_ifs(engine, list(picks), tuple(spread)):
        for i in what_if.next(k):
            if i not in known:                           # (next() never names an untestable one)
                score[i] = score.get(i, 0.0) + weight
    ranked = sorted(score, key=lambda i: -score[i])      # stable: ties keep outcome order
    return ranked[:limit] if limit is not None else ranked
