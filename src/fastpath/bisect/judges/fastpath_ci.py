"""The ``fastpath-ci`` judge: the seed's confidence-interval rule.

The seed's rule, as we read it (the seed only says: "Tests with 1 sample initially. If
inconclusive (gap < 1.5x confidence interval), collects 4 more samples (5 total)";
"GOOD: performance matches or exceeds good baseline"; "BAD: performance regression
detected"; "SKIP: overlapping confidence intervals"; "compare results against good/bad
baselines using confidence intervals"). Exact reading implemented here:

1. A "sample" is one session value. CI_G and CI_B are the 95% Student-t confidence
   intervals of the good and bad baselines' means over their sessions; h_G is CI_G's
   half-width.
2. After 1 session x: gap = |x - m_G|. If gap >= 1.5 * h_G the result is conclusive:
   BAD when x lies on the regression side of m_G, GOOD otherwise. If gap < 1.5 * h_G,
   UNDECIDED: 4 more sessions.
3. With 5 sessions: CI_T is the 95% t-interval of their mean. CI_T overlapping CI_G only
   -> GOOD; overlapping CI_B only -> BAD; overlapping both -> SKIP; overlapping neither ->
   the nearer baseline mean (beyond either baseline counts as that baseline).
(Between 2 and 4 sessions, which only happens when a run was interrupted, it asks for the
rest of the 5.)
"""

from __future__ import annotations

from fastpath.analysis.stats import mean_ci
from fastpath.bisect.noise import Baselines
from fastpath.bisect.params import CiParams
from fastpath.bisect.verdict import BAD, GOOD, SKIP, UNDECIDED, Decision


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


class CiJudge:
    name = "fastpath-ci"

    def track(self, history) -> "CiJudge":
        """The seed's rule compares with the baselines as recorded: no level tracking."""
        return self

    def __init__(self, good, bad, improvement: str, params: CiParams):
        self.b = Baselines(good, bad, improvement)
        self.p = params
        self.ci_good = mean_ci(self.b.good, params.confidence)
        self.ci_bad = mean_ci(self.b.bad, params.confidence)
        self.half_good = (self.ci_good[1] - self.ci_good[0]) / 2

    def problem(self) -> str | None:
        return self.b.problem()

    def _fmt(self, ci) -> str:
        lo, hi = sorted((self.b.sign * ci[0], self.b.sign * ci[1]))
        return f"[{lo:.6g}, {hi:.6g}]"

    def decide(self, tested) -> Decision:
        b, p, n = self.b, self.p, len(tested)
        if n < p.first:
            return Decision(UNDECIDED, n, p.first - n, "no sessions yet")
        y = [b.sign * float(v) for v in tested]
        mean = sum(y) / n
        if n < p.total:
            gap = abs(mean - b.mg)
            why = (f"first look: gap to good {gap:.6g} vs {p.factor} x CI half-width "
                   f"{self.half_good:.6g}")
            if n == p.first and gap >= p.factor * self.half_good:
                return Decision(BAD if mean > b.mg else GOOD, n, 0, why)
            return Decision(UNDECIDED, n, p.total - n, why)
        ci = mean_ci(y, p.confidence)
        og, ob = _overlap(ci, self.ci_good), _overlap(ci, self.ci_bad)
        why = (f"CI {self._fmt(ci)} over {n} sessions vs good {self._fmt(self.ci_good)}, "
               f"bad {self._fmt(self.ci_bad)}")
        if og and ob:
            return Decision(SKIP, n, 0, f"overlaps both: {why}")
        if og or ob:
            return Decision(GOOD if og else BAD, n, 0, why)
        return Decision(GOOD if mean - b.mg < b.mb - mean else BAD, n, 0, f"overlaps neither: {why}")
