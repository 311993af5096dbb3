"""The noise model the judges share: sessions on the badness axis, the baselines' noise, wild boots.

Every judge is direction-aware: values are first mapped to a "badness" axis ``y = s * x`` with
``s = +1`` for lower-is-better result classes and ``s = -1`` for higher-is-better ones, so the
bad baseline lies above the good one on that axis whatever the result class (``Baselines``:
both baselines' means and their pooled session sd there). A session is normal (Student-t, for
a prediction) around its level, or, with a small share, a wild boot landing anywhere in a wide
range (``Contaminated``, Huber 1965); ``fit_baselines`` fits the baselines' means and sd under
that model, and ``fitted`` uses that fit when the baselines clearly hold wild boots.
"""

from __future__ import annotations

import copy
import math

from fastpath.bisect.params import SprtParams
from fastpath.errors import UserError

HIGHER, LOWER = "higher", "lower"


def check_improvement(improvement: str) -> None:
    if improvement not in (HIGHER, LOWER):
        raise ValueError(f"improvement must be {HIGHER!r} or {LOWER!r}, not {improvement!r}")


class Baselines:
    """Both baselines on the badness axis: means, pooled session sd, sizes."""

    def __init__(self, good, bad, improvement: str):
        self.sign = 1.0 if improvement == LOWER else -1.0
        self.good = [self.sign * float(v) for v in good]
        self.bad = [self.sign * float(v) for v in bad]
        self.kg, self.kb = len(self.good), len(self.bad)
        if self.kg < 2 or self.kb < 2:
            raise UserError(f"baselines need at least 2 sessions each (good has {self.kg}, "
                            f"bad has {self.kb}): the session-to-session noise is unknown otherwise")
        self.mg, self.mb = sum(self.good) / self.kg, sum(self.bad) / self.kb
        ss = sum((v - self.mg) ** 2 for v in self.good) + sum((v - self.mb) ** 2 for v in self.bad)
        self.df = self.kg + self.kb - 2
        sd = math.sqrt(ss / self.df)
        # Identical values (a deterministic benchmark) still need a scale.
        self.sd = sd if sd > 0 else max(abs(self.mb - self.mg), abs(self.mg), 1.0) * 1e-9
        self.gap = self.mb - self.mg            # > 0 when bad is worse

    def problem(self) -> str | None:
        if self.gap <= 0:
            return "the bad baseline is not worse than the good one in the result class's direction"
        return None

    def mean(self, tested) -> float:
        """The tested sessions' mean in the result's own units."""
        return sum(float(v) for v in tested) / len(tested)


def fit_baselines(b: Baselines, share: float, spread: float, rounds: int = 200) -> Baselines:
    """``b`` with its means and pooled sd replaced by their maximum-likelihood estimates under
    a contaminated normal model (EM, started from the plain estimates): each session is, with
    probability 1 - ``share``, normal around its baseline's mean with the common sd, else a
    wild boot uniform over gap + 2 ``spread`` sds (sprt's own model of a disturbed boot). A
    session weighs by the normal part's posterior share, so a wild boot among the baseline
    sessions neither inflates the sd nor moves a mean much, while a second mode (a share of
    sessions well above ``share``) keeps its weight: the fit starts from the plain (wide)
    estimates, and a mode that large is likelier as part of the normal than as wild boots.
    The sd keeps the plain estimate's df correction (divided by the weights' sum minus 2)."""
    if share <= 0:
        return b
    mg, mb, sd = b.mg, b.mb, b.sd
    norm = 1 / math.sqrt(2 * math.pi)
    for _ in range(rounds):
        wild = share / (abs(mb - mg) + 2 * spread * sd)
        means = []
        ss = wsum = 0.0
        for values, m in ((b.good, mg), (b.bad, mb)):
            num = den = 0.0
            for v in values:
                z = (v - m) / sd
                f = (1 - share) * norm * math.exp(-0.5 * z * z) / sd
                r = f / (f + wild)
                num, den = num + r * v, den + r
                ss += r * (v - m) ** 2
            means.append(num / den if den > 0 else m)
            wsum += den
        new_sd = math.sqrt(ss / max(wsum - 2, 1.0)) if ss > 0 else sd
        moved = max(abs(new_sd - sd), abs(means[0] - mg), abs(means[1] - mb))
        (mg, mb), sd = means, new_sd
        if moved <= 1e-9 * sd:
            break
    fitted = copy.copy(b)
    fitted.mg, fitted.mb, fitted.sd, fitted.gap = mg, mb, sd, mb - mg
    return fitted


def _log_t(x: float, loc: float, scale: float, df: int) -> float:
    """log Student-t density without the constant shared by equal-df densities."""
    z = (x - loc) / scale
    return -math.log(scale) - (df + 1) / 2 * math.log1p(z * z / df)


class Contaminated:
    """A contaminated Student-t density (Huber): with probability 1 - outlier_share a session
    is Student-t (the baselines' df) around ``loc``; otherwise a wild boot, uniform over a
    range of ``width``. Needs ``self.b`` (Baselines) and ``self.p`` (SprtParams)."""

    def _contaminate(self, width: float) -> None:
        df = self.b.df
        self._tconst = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi))
        self._wild = self.p.outlier_share / width if self.p.outlier_share > 0 else 0.0

    def _density(self, y: float, loc: float, scale: float) -> float:
        t = math.exp(self._tconst + _log_t(y, loc, scale, self.b.df))
        return (1 - self.p.outlier_share) * t + self._wild


def _loglik(b: Baselines, mg: float, mb: float, sd: float, share: float, spread: float) -> float:
    """log likelihood of both baselines' sessions, normal around mg/mb with sd, contaminated
    with ``share`` of wild boots uniform over gap + 2 ``spread`` sds."""
    log_wild = math.log(share / (abs(mb - mg) + 2 * spread * sd)) if share > 0 else -math.inf
    log_norm = math.log((1 - share) / (sd * math.sqrt(2 * math.pi)))
    total = 0.0
    for values, m in ((b.good, mg), (b.bad, mb)):
        for v in values:           # log(normal + wild) without underflow far out in the tail
            a = log_norm - 0.5 * ((v - m) / sd) ** 2
            hi, lo = max(a, log_wild), min(a, log_wild)
            total += hi + (math.log1p(math.exp(lo - hi)) if lo > -math.inf else 0.0)
    return total


def fitted(b: Baselines, p: SprtParams) -> Baselines:
    """The baselines as sprt uses them: fitted under the contaminated model when the data show
    wild boots clearly (log likelihood at least ``robust_evidence`` above the plain normal
    fit's), else as measured."""
    if not math.isfinite(p.robust_evidence) or p.outlier_share <= 0:
        return b
    fit = fit_baselines(b, p.outlier_share, p.outlier_range)
    n = b.kg + b.kb
    plain = _loglik(b, b.mg, b.mb, b.sd * math.sqrt(b.df / n), 0.0, p.outlier_range)
    robust = _loglik(b, fit.mg, fit.mb, fit.sd, p.outlier_share, p.outlier_range)
    return fit if robust - plain >= p.robust_evidence else b
