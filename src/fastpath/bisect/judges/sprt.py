"""The ``sprt`` judge (the default policy): a sequential probability ratio test per commit.

A sequential probability ratio test of "the tested commit is like the good baseline" (H0)
against "... like the bad baseline" (H1), one session at a time (Wald 1945). The baselines
are estimates, not truths, so each hypothesis predicts the tested sessions with the
baseline's uncertainty added: under H_i a session is Student-t distributed around the
baseline mean m_i with scale sd * sqrt(1 + n/k_i) (sd: the baselines' pooled session
standard deviation, nu = k_G + k_B - 2 degrees of freedom, k_i baseline sessions, n tested
sessions so far), which gives the mean of n sessions its predictive variance
sd^2 (1/n + 1/k_i). Each hypothesis also allows ``outlier_share`` of wild boots landing
anywhere within ``outlier_range`` sd beyond the baselines (a contaminated model, Huber
1965), so one wild boot moves the ratio only a bounded amount. BAD when the log ratio
reaches ln((1-beta)/alpha), GOOD when it falls to ln(beta/(1-alpha)), never before
``min_sessions``; otherwise one more session, and SKIP at ``max_sessions``. Because the
baselines' uncertainty is in the prediction, the ratio stays bounded when they are too
close to tell apart; ``problem()`` then says so, and how many baseline sessions would be
enough, instead of letting a bisection spend its cap on every commit and then guess.
When the baselines clearly hold wild boots themselves, their means and sd are the fit
under that contaminated model (fit_baselines, ``robust_evidence``), so one slowed boot
among them neither inflates the sd nor moves the gap.
Parameters: ``SprtParams`` (params.py); measured by bench/bisect_sim.py (docs/bisection.md).
"""

from __future__ import annotations

import copy
import math

from fastpath.bisect.levels import Levels, track_levels
from fastpath.bisect.noise import Baselines, Contaminated, fitted
from fastpath.bisect.params import SprtParams
from fastpath.bisect.verdict import BAD, GOOD, SKIP, UNDECIDED, Decision


class SprtJudge(Contaminated):
    name = "sprt"

    def __init__(self, good, bad, improvement: str, params: SprtParams):
        self.p = params
        self.b = fitted(Baselines(good, bad, improvement), params)
        b = self.b
        self.levels = Levels(b.mg, b.mb, b.sd ** 2 / b.kg, b.sd ** 2 / b.kb)
        self._contaminate(b.gap + 2 * params.outlier_range * b.sd)      # where a wild boot may land

    def track(self, history) -> "SprtJudge":
        """This judge with the levels tracked over the bisection's earlier steps
        (track_levels; ``history`` = [(outcome, session values)] in test order). Without
        history it is this judge."""
        if not history or not self.p.track_levels:
            return self
        judge = copy.copy(self)
        judge.levels = track_levels(self.b, history, self.p.level_noise, self.p.level_clip)
        return judge

    def _session_llr(self, y: float, sg: float, sb: float, lg: float | None = None,
                     lb: float | None = None) -> float:
        lg = self.b.mg if lg is None else lg
        lb = self.b.mb if lb is None else lb
        return math.log(self._density(y, lb, sb)) - math.log(self._density(y, lg, sg))

    def _scales(self, n: int, kg: int, kb: int) -> tuple[float, float]:
        # Per-session scales chosen so that the mean of n sessions has the predictive variance
        # sd^2 (1/n + 1/k): the baseline's own uncertainty is shared by all n sessions.
        return self.b.sd * math.sqrt(1 + n / kg), self.b.sd * math.sqrt(1 + n / kb)

    def llr(self, tested) -> float:
        """log P(tested | like bad) - log P(tested | like good), at the tracked levels: the
        mean of n sessions has predictive variance sd^2/n + the level's variance."""
        b, lv, n = self.b, self.levels, len(tested)
        sd2 = b.sd * b.sd
        sg, sb = math.sqrt(sd2 + n * lv.good_var), math.sqrt(sd2 + n * lv.bad_var)
        return sum(self._session_llr(b.sign * float(v), sg, sb, lv.good, lv.bad) for v in tested)

    def _reach(self, k: int | None = None) -> float:
        """|log ratio| that n = max_sessions sessions exactly at a baseline mean reach (with k
        baseline sessions each, default: as recorded): what the policy can decide at best."""
        b, n = self.b, self.p.max_sessions
        kg, kb = k or b.kg, k or b.kb
        sg, sb = self._scales(n, kg, kb)
        # Judge by a pessimistic gap (one-sided 95% lower bound): a gap that looks big only
        # because the baselines' noise inflated it must not pass.
        shrink = self.p.gap_z * b.sd * math.sqrt(1 / kg + 1 / kb)
        if b.gap <= shrink:
            return 0.0
        mg, mb = b.mg + shrink / 2, b.mb - shrink / 2
        at_good = self._session_llr(mg, sg, sb) * -1
        at_bad = self._session_llr(mb, sg, sb)
        return n * min(at_good, at_bad)

    def baseline_sessions_needed(self, limit: int = 1000) -> int | None:
        """Sessions of each baseline with which these baselines would be decidable (the
        current count when they already are), or None when even ``limit`` would not do."""
        need = max(self.p.upper, -self.p.lower)
        return next((k for k in range(max(self.b.kg, self.b.kb), limit + 1) if self._reach(k) >= need), None)

    def problem(self) -> str | None:
        base = self.b.problem()
        if base:
            return base
        need = max(self.p.upper, -self.p.lower)
        if self._reach() >= need:
            return None
        k = self.baseline_sessions_needed()
        more = f"record about {k} sessions of each baseline" if k else "the difference is too small"
        return (f"the baselines differ by only {self.b.gap / self.b.sd:.2f} session standard deviations "
                f"({self.b.kg} good and {self.b.kb} bad sessions): policy sprt could not tell them "
                f"apart within {self.p.max_sessions} sessions at alpha={self.p.alpha}, "
                f"beta={self.p.beta}; {more}")

    def decide(self, tested) -> Decision:
        n = len(tested)
        if n < self.p.min_sessions:
            return Decision(UNDECIDED, n, self.p.min_sessions - n, f"{n} of {self.p.min_sessions} sessions")
        llr = self.llr(tested)
        lv, sign = self.levels, self.b.sign
        tracked = f" (tracked over {lv.sessions} earlier sessions)" if lv.sessions else ""
        why = (f"mean {self.b.mean(tested):.6g} over {n} sessions; good {sign * lv.good:.6g}, "
               f"bad {sign * lv.bad:.6g}{tracked}; log likelihood ratio {llr:+.2f} "
               f"(BAD >= {self.p.upper:.2f}, GOOD <= {self.p.lower:.2f})")
        return wald(self.p, llr, (BAD, GOOD), n, self.p.max_sessions, "sessions", 1, why)


def wald(p, llr: float, outcomes: tuple[str, str], n: int, cap: int, unit: str, need: int,
          why: str) -> Decision:
    """Wald's stopping rule: the first outcome at the upper threshold, the second at the lower,
    SKIP at the cap, else UNDECIDED asking for ``need`` more sessions."""
    if llr >= p.upper:
        return Decision(outcomes[0], n, 0, why)
    if llr <= p.lower:
        return Decision(outcomes[1], n, 0, why)
    if n >= cap:
        return Decision(SKIP, n, 0, f"undecided at the cap of {cap} {unit}: {why}")
    return Decision(UNDECIDED, n, need, why)
