"""Level tracking: where the good and the bad level are now, after the bisection's earlier steps.

sprt judges a commit against these levels (``SprtJudge.track``), not against the baselines
alone, so that a machine that drifted since the baselines were recorded is followed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastpath.bisect.noise import Baselines
from fastpath.bisect.verdict import BAD, GOOD


@dataclass(frozen=True)
class Levels:
    """Where the good and the bad level are believed to be now, on the badness axis, and how
    uncertain each is (variance of the level, not of a session)."""
    good: float
    bad: float
    good_var: float
    bad_var: float
    sessions: int = 0         # earlier sessions the levels were tracked over


def track_levels(b: Baselines, history, q: float, clip: float) -> Levels:
    """The good and bad levels now: a Kalman filter over the bisection's earlier sessions.

    State: the two levels (L_G, L_B), starting at the baselines' means with variances
    sd^2/k_G and sd^2/k_B (exactly what sprt assumes without history). ``history``:
    [(outcome, session values)] of the commits already tested, in test order. A session of a
    commit classified GOOD observes L_G, one classified BAD observes L_B, with noise sd^2
    (sessions of skipped commits observe nothing). So with q = 0 the classified commits add
    to their baseline (the means pooled, the levels' variances shrinking): later steps need
    fewer sessions, and a machine that drifted since the baselines is followed (the pooled
    mean leans on the bisection's own, more recent, sessions). With q > 0 the machine is
    modelled as moving: each session adds a common random step of variance ``q`` sd^2 to both
    levels (drift moves both kernels alike), so older sessions count less. Innovations are
    clipped at ``clip`` predictive sds: a wild boot must not drag the levels.
    """
    r = b.sd * b.sd
    qv = q * r
    lg, lb = b.mg, b.mb
    pgg, pbb, pgb = r / b.kg, r / b.kb, 0.0
    steps = 0
    for outcome, values in history:
        for v in values:
            steps += 1
            pgg, pbb, pgb = pgg + qv, pbb + qv, pgb + qv
            if outcome not in (GOOD, BAD):
                continue
            # Observe one level; the Kalman gain for both (they are correlated through q).
            s2 = (pgg if outcome == GOOD else pbb) + r
            lim = clip * math.sqrt(s2)
            innov = min(max(b.sign * float(v) - (lg if outcome == GOOD else lb), -lim), lim)
            if outcome == GOOD:
                kg, kb = pgg / s2, pgb / s2
                pgg, pgb, pbb = pgg - kg * pgg, pgb - kg * pgb, pbb - kb * pgb
            else:
                kg, kb = pgb / s2, pbb / s2
                pgg, pgb, pbb = pgg - kg * pgb, pgb - kg * pbb, pbb - kb * pbb
            lg, lb = lg + kg * innov, lb + kb * innov
    if steps:                  # the tested commit's sessions come one step later
        pgg, pbb = pgg + qv, pbb + qv
    return Levels(lg, lb, pgg, pbb, steps)
