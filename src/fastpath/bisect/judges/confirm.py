"""The confirmation judge of `bisect confirm`: is the named culprit worse than its parent?"""

from __future__ import annotations

import math
import statistics

from scipy.special import stdtr

from fastpath.bisect.judges.sprt import wald
from fastpath.bisect.noise import Baselines, Contaminated, fitted
from fastpath.bisect.params import SprtParams
from fastpath.bisect.verdict import BAD, GOOD, UNDECIDED, Decision

CONFIRMED, REJECTED = BAD, GOOD       # a confirmation's outcomes, in verdict terms


class ConfirmJudge(Contaminated):
    """Is there a step of the baselines' size between the named culprit and its parent?

    The bisection classified each commit against baselines recorded before it started; a
    machine that moved since (drift), or baselines that happened to be estimated off, can
    make it name a wrong culprit. The confirmation boots the parent and the culprit
    alternately (parent, culprit, parent, culprit, ...) and looks only at the differences
    d_j = culprit_j - parent_j of adjacent sessions, on the badness axis: a slow drift
    cancels in them. A sequential probability ratio test of H1 "d is centred on the
    baselines' gap, at least" (its one-sided lower bound at ``gap_z``: the gap is an estimate,
    and a larger true step only makes CONFIRMED likelier) against H0 "d is centred on 0" (a
    misclassified commit and its neighbour have the same mean), both Student-t with scale
    sd * sqrt(2) (two sessions' noise) and the same contaminated model as sprt (a pair below
    0, a culprit better than its parent, counts only as "below 0", with the probability each
    hypothesis gives that: censored at 0), with sprt's alpha, beta and
    min_sessions (in pairs), capped at ``confirm_pairs`` pairs. CONFIRMED (BAD: the culprit
    is worse than its parent by about the gap), REJECTED (GOOD: no step: the bisection's
    answer is withdrawn), SKIP (undecided at the cap: not confirmed either).
    """

    name = "sprt-confirm"

    def __init__(self, good, bad, improvement: str, params: SprtParams | None = None):
        self.p = params or SprtParams()
        self.b = fitted(Baselines(good, bad, improvement), self.p)
        # H1's step: the gap's one-sided lower bound (gap_z).
        self.step = self.b.gap - self.p.gap_z * self.b.sd * math.sqrt(1 / self.b.kg + 1 / self.b.kb)
        self.base_scale = self.b.sd * math.sqrt(2)     # two sessions' noise, as the baselines measured it
        self._scale(self.base_scale)

    def _scale(self, scale: float) -> None:
        """Set the pairs' noise scale, with the wild range and the censored mass that follow it."""
        self.scale = scale
        spread = self.p.outlier_range * scale
        self._contaminate(self.b.gap + 2 * spread)
        # log P(pair <= 0 | step) - log P(pair <= 0 | no step): Student-t mass below 0 plus the
        # wild boots' share of the range below 0 (the range reaches `spread` below 0).
        if self.step > 0:
            wild_below = self._wild * spread
            t_below = lambda loc: (1 - self.p.outlier_share) * float(stdtr(self.b.df, -loc / scale))
            self._below = math.log(t_below(self.step) + wild_below) - math.log(t_below(0.0) + wild_below)
        else:
            self._below = 0.0

    def pair_scale(self, d) -> float:
        """The noise scale of the differences: the baselines' (sd * sqrt(2)), unless the pairs
        themselves are far noisier (a machine that got noisier since the baselines, e.g. one
        busy with other work): from 4 pairs above 0 on (a pair below 0 is censored, as in
        llr), when their robust spread (1.4826 x the median absolute deviation, which wild
        pairs hardly move) is at least ``confirm_noisier`` times the
        baselines', that spread. Judged with the baselines' small sd, such pairs land far from
        both 0 and the step, count as wild, and the few near 0 decide: a real step REJECTED
        (seen on the lab). Stationary noise almost never trips it (4 normal pairs: under 1 in
        10^4)."""
        above = [x for x in d if x > 0]       # a pair below 0 is censored: it says only "below 0"
        if len(above) < 4:
            return self.base_scale
        med = statistics.median(above)
        spread = 1.4826 * statistics.median(abs(x - med) for x in above)
        return spread if spread >= self.p.confirm_noisier * self.base_scale else self.base_scale

    def problem(self) -> str | None:
        base = self.b.problem()
        if base:
            return base
        if self.step <= 0:
            return (f"the baselines' gap is not significant at gap_z={self.p.gap_z}: there is no step "
                    f"size to confirm")
        return None

    def differences(self, parent, culprit) -> list[float]:
        """Badness-axis differences of the complete pairs (culprit_j - parent_j)."""
        return [self.b.sign * (float(c) - float(p)) for p, c in zip(parent, culprit)]

    def llr(self, parent, culprit) -> float:
        d = self.differences(parent, culprit)
        scale = self.pair_scale(d)
        if scale != self.scale:
            self._scale(scale)
        # A culprit better than its parent is no worse than it: a pair below 0 only says "below
        # 0" (far below 0, both tails would otherwise look alike and hide that it is no step),
        # and counts with the probability each hypothesis gives that (censored at 0).
        return sum(self._below if x <= 0 else
                   math.log(self._density(x, self.step, scale)) - math.log(self._density(x, 0.0, scale))
                   for x in d)

    def decide(self, parent, culprit) -> Decision:
        """Decision over the pairs so far; ``need`` counts sessions (parent then culprit)."""
        n = min(len(parent), len(culprit))
        if n < self.p.min_sessions:
            return Decision(UNDECIDED, n, 2 * (self.p.min_sessions - n) - (len(parent) - n),
                            f"{n} of {self.p.min_sessions} pairs")
        d = self.differences(parent, culprit)
        llr = self.llr(parent, culprit)
        noisier = (f"; the pairs' own noise ({self.scale:.6g}, {self.scale / self.base_scale:.1f}x "
                   f"the baselines')" if self.scale > self.base_scale else "")
        why = (f"culprit worse than its parent by {sum(d) / n:.6g} on average over {n} interleaved pairs; "
               f"baselines' gap {self.b.gap:.6g}{noisier}; log likelihood ratio {llr:+.2f} "
               f"(CONFIRMED >= {self.p.upper:.2f}, REJECTED <= {self.p.lower:.2f})")
        return wald(self.p, llr, (CONFIRMED, REJECTED), n, self.p.confirm_pairs, "pairs",
                     2 - (len(parent) - n), why)
