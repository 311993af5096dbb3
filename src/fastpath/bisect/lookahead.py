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
the change at. A commit's score is the summed weight of the outcomes that ask for it; most
likely first, ties in outcome order.

    ahead = likely_next(engine, [12], k=1)     # e.g. [6, 18]: after "12 is bad", after "12 is good"
"""

from __future__ import annotations

import copy

import numpy as np

from fastpath.bisect.engine import RUNNING, Engine


def sides(engine: Engine, i: int) -> tuple[float, float]:
    """The fitted (oriented) levels of the good side and the bad side of commit ``i``."""
    f = engine.fit()
    pts, level = np.asarray(f.points), np.asarray(f.level)
    j = int(np.searchsorted(pts, i))
    if j < len(pts) and pts[j] == i:                   # a tested commit
        if i in (0, engine.n - 1):
            return float(level[j]), float(level[j])    # an end stays where it is
        return float(level[j - 1]), float(level[j + 1])
    return float(level[j - 1]), float(level[j])


def outcomes(engine: Engine, picks: list[int]) -> list[tuple[float, dict[int, float]]]:
    """(weight, {pick: oriented level}) for each way the round can come out: one change among
    the picks, at each place between them; weights sum to 1."""
    order = sorted(dict.fromkeys(picks))
    side = {i: sides(engine, i) for i in order}
    post = np.asarray(engine.answer().posterior or [0.0] * engine.n, dtype=float)
    bounds = [0] + order + [engine.n - 1]
    out = []
    for t in range(len(order) + 1):
        lo, hi = bounds[t], bounds[t + 1]              # the change in (lo, hi]
        mass = float(post[lo + 1:hi + 1].sum()) if hi > lo else 0.0
        out.append((mass, {i: side[i][0] if n < t else side[i][1] for n, i in enumerate(order)}))
    total = sum(w for w, _ in out)
    if total <= 0:
        return [(1.0 / len(out), levels) for _, levels in out]
    return [(w / total, levels) for w, levels in out]


def likely_next(engine: Engine, picks: list[int], k: int = 1, limit: int | None = None,
                spread: tuple[float, ...] = (0.0,)) -> list[int]:
    """The commits the engine is likely to ask for after a round of ``picks`` (``next(k)``
    of each outcome, most likely first; the picks themselves and untestable commits left
    out). [] when the engine has stopped. ``engine`` is not changed (its copies are).
    ``spread``: each outcome's sessions are also tried this many noise scales (``Fit.scale``)
    off the fitted levels (e.g. (-0.5, 0, 0.5)), its weight shared among them: for an engine
    whose next pick moves with the value, not only with its side."""
    if not picks or engine.status() != RUNNING:
        return []
    scale = float(engine.fit().scale)
    score: dict[int, float] = {}
    for weight, levels in outcomes(engine, picks):
        for off in spread:
            what_if = copy.deepcopy(engine)
            for i, level in levels.items():
                what_if.add(i, engine.sign * (level + off * scale))
            for i in what_if.next(k):
                if i not in picks:                       # (next() never names an untestable one)
                    score[i] = score.get(i, 0.0) + weight / len(spread)
    ranked = sorted(score, key=lambda i: -score[i])      # stable: ties keep outcome order
    return ranked[:limit] if limit is not None else ranked
