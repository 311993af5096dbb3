"""Verdict policies: is the tested commit like the good baseline or like the bad one?

Pure functions over per-session values (one value per boot: the mean of that session's
repeats; see analysis/stats.py for why the session is the unit). Every policy is
direction-aware: values are first mapped to a "badness" axis ``y = s * x`` with ``s = +1``
for lower-is-better result classes and ``s = -1`` for higher-is-better ones, so the bad
baseline lies above the good one on that axis whatever the result class.

    judge = prepare("sprt", good_values, bad_values, "higher")
    problem = judge.problem()        # None, or why these baselines cannot be bisected
    decision = judge.decide(tested_values)   # verdict.Decision: GOOD/BAD/UNDECIDED(need)/SKIP

Policies (``POLICIES``; the name is recorded in the bisection context):

``sprt`` (the default)
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
    Parameters: ``SprtParams`` below; measured by bench/bisect_sim.py (docs/bisection.md).

``fastpath-ci``
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

import copy
import math
import statistics
from dataclasses import asdict, dataclass, fields

from scipy.special import stdtr

from fastpath.analysis.stats import mean_ci
from fastpath.bisect.verdict import BAD, GOOD, SKIP, UNDECIDED, Decision
from fastpath.errors import UserError

HIGHER, LOWER = "higher", "lower"
DEFAULT_POLICY = "sprt"


# -- the default policy's parameters, all in one place ------------------------------------------
@dataclass(frozen=True)
class SprtParams:
    # Measured by bench/bisect_sim.py (docs/bisection.md, "Decision quality, measured"): a
    # bisection makes ~log2(N) verdicts plus a confirmation, so each must err rarely.
    alpha: float = 0.001      # bound on P(BAD | commit is like good) per verdict (Wald's bound)
    beta: float = 0.001       # bound on P(GOOD | commit is like bad) per verdict
    outlier_share: float = 0.05   # share of wild boots each hypothesis allows for ...
    outlier_range: float = 10.0   # ... landing anywhere within this many sd beyond the baselines
    min_sessions: int = 2     # sessions (confirm: pairs) before any decision: one wild boot never decides
    max_sessions: int = 30    # cap: still undecided here -> SKIP
    gap_z: float = 1.645      # the gap's one-sided 95% lower bound: must be decidable at start;
                              # the step size a confirmation tests for
    confirm_pairs: int = 50   # `bisect confirm`: cap on interleaved parent/culprit session pairs
    confirm_noisier: float = 3.0  # `bisect confirm`: the pairs' own noise replaces the baselines' when
                                  # at least this many times larger (ConfirmJudge.pair_scale)
    track_levels: bool = True     # judge each commit against the levels tracked over the earlier
                                  # steps' sessions (track_levels()), not the baselines alone
    level_noise: float = 0.0      # level tracking: per-session random-walk variance of the machine's
                                  # level, in baseline sd^2 (0: classified sessions pool with the baselines)
    level_clip: float = 3.0       # a classified session moves the tracked level by at most this many
                                  # predictive sds (a wild boot must not drag it)
    robust_evidence: float = 10.0  # the baselines' means and common sd are fitted under a
                                   # contaminated model (fit_baselines()) when that fit is at least
                                   # e^this times likelier than the plain normal one (clearly wild
                                   # boots among them); 0: always, inf: never

    def __post_init__(self):
        _check_params("sprt", self, (
            ("alpha", 0 < self.alpha < 0.5, "0 < alpha < 0.5"), ("beta", 0 < self.beta < 0.5, "0 < beta < 0.5"),
            ("outlier_share", 0 <= self.outlier_share < 1, "0 <= share < 1"),
            ("outlier_range", self.outlier_range > 0, "> 0"), ("gap_z", math.isfinite(self.gap_z), "a number"),
            ("min_sessions", self.min_sessions >= 1, ">= 1"),
            ("max_sessions", self.max_sessions >= self.min_sessions, ">= min_sessions"),
            ("confirm_pairs", self.confirm_pairs >= self.min_sessions, ">= min_sessions"),
            ("confirm_noisier", self.confirm_noisier >= 1, ">= 1 (inf: never)"),
            ("level_noise", self.level_noise >= 0, ">= 0"), ("level_clip", self.level_clip > 0, "> 0"),
            ("robust_evidence", self.robust_evidence >= 0, ">= 0 (inf: never)")))

    @property
    def upper(self) -> float:
        return math.log((1 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1 - self.alpha))


@dataclass(frozen=True)
class CiParams:
    first: int = 1            # sessions of the first look
    total: int = 5            # sessions after an inconclusive first look
    factor: float = 1.5       # conclusive when the gap is >= factor x the good CI half-width
    confidence: float = 0.95

    def __post_init__(self):
        _check_params("fastpath-ci", self, (
            ("first", self.first >= 1, ">= 1"), ("total", self.total >= max(self.first, 2), ">= first and >= 2"),
            ("factor", self.factor > 0, "> 0"), ("confidence", 0 < self.confidence < 1, "0 < confidence < 1")))


def _check_params(name: str, params, checks) -> None:
    """UserError naming the first parameter out of range (NaN is out of every range)."""
    for key, ok, want in checks:
        if not ok:
            raise UserError(f"policy '{name}': bad parameter {key}={getattr(params, key)!r} (want {want})")


PARAMS = {"sprt": SprtParams, "fastpath-ci": CiParams}
POLICIES = tuple(PARAMS)


def params_for(name: str, overrides: dict | None = None):
    """The parameter object of policy ``name`` (UserError for an unknown name or key)."""
    if name not in PARAMS:
        raise UserError(f"--policy '{name}': unknown policy; choose one of {', '.join(POLICIES)}")
    cls = PARAMS[name]
    overrides = dict(overrides or {})
    known = {f.name for f in fields(cls)}
    for key in overrides:
        if key not in known:
            raise UserError(f"policy '{name}': unknown parameter '{key}' (known: {', '.join(sorted(known))})")
    return cls(**overrides)


def parse_overrides(name: str, items) -> dict:
    """``KEY=VALUE`` strings (``--policy-param``) as typed overrides of policy ``name``'s
    parameters: each value takes its default's type (yes/no/true/false/1/0 for flags)."""
    defaults = asdict(params_for(name))
    overrides = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--policy-param '{item}': expected KEY=VALUE")
        params_for(name, {key: defaults.get(key)})          # unknown key: the one clear line
        kind = type(defaults[key])
        try:
            if kind is bool:
                if value.strip().lower() not in ("yes", "no", "true", "false", "1", "0"):
                    raise ValueError(value)
                overrides[key] = value.strip().lower() in ("yes", "true", "1")
            else:
                overrides[key] = kind(value)
        except ValueError:
            want = {bool: "yes or no", int: "an integer", float: "a number"}.get(kind, kind.__name__)
            raise UserError(f"--policy-param {key}={value}: expected {want}") from None
    return overrides


def describe(name: str, params) -> dict:
    """What the context records about the policy: {"name": ..., "params": {...}}."""
    return {"name": name, "params": asdict(params)}


def _check_improvement(improvement: str) -> None:
    if improvement not in (HIGHER, LOWER):
        raise ValueError(f"improvement must be {HIGHER!r} or {LOWER!r}, not {improvement!r}")


def prepare(name: str, good, bad, improvement: str, params=None):
    """A judge for policy ``name`` over these baselines (sequences of session values)."""
    _check_improvement(improvement)
    params = params if params is not None else params_for(name)
    cls = {"sprt": SprtJudge, "fastpath-ci": CiJudge}[name]
    return cls(good, bad, improvement, params)


class _Baselines:
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


def fit_baselines(b: _Baselines, share: float, spread: float, rounds: int = 200) -> _Baselines:
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


@dataclass(frozen=True)
class Levels:
    """Where the good and the bad level are believed to be now, on the badness axis, and how
    uncertain each is (variance of the level, not of a session)."""
    good: float
    bad: float
    good_var: float
    bad_var: float
    sessions: int = 0         # earlier sessions the levels were tracked over


def track_levels(b: _Baselines, history, q: float, clip: float) -> Levels:
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


class _Contaminated:
    """A contaminated Student-t density (Huber): with probability 1 - outlier_share a session
    is Student-t (the baselines' df) around ``loc``; otherwise a wild boot, uniform over a
    range of ``width``. Needs ``self.b`` (_Baselines) and ``self.p`` (SprtParams)."""

    def _contaminate(self, width: float) -> None:
        df = self.b.df
        self._tconst = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi))
        self._wild = self.p.outlier_share / width if self.p.outlier_share > 0 else 0.0

    def _density(self, y: float, loc: float, scale: float) -> float:
        t = math.exp(self._tconst + _log_t(y, loc, scale, self.b.df))
        return (1 - self.p.outlier_share) * t + self._wild


def _loglik(b: _Baselines, mg: float, mb: float, sd: float, share: float, spread: float) -> float:
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


def _fitted(b: _Baselines, p: SprtParams) -> _Baselines:
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


class SprtJudge(_Contaminated):
    name = "sprt"

    def __init__(self, good, bad, improvement: str, params: SprtParams):
        self.p = params
        self.b = _fitted(_Baselines(good, bad, improvement), params)
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
        return _wald(self.p, llr, (BAD, GOOD), n, self.p.max_sessions, "sessions", 1, why)


def _wald(p, llr: float, outcomes: tuple[str, str], n: int, cap: int, unit: str, need: int,
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


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


class CiJudge:
    name = "fastpath-ci"

    def track(self, history) -> "CiJudge":
        """The seed's rule compares with the baselines as recorded: no level tracking."""
        return self

    def __init__(self, good, bad, improvement: str, params: CiParams):
        self.b = _Baselines(good, bad, improvement)
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


# -- confirming a named culprit against its parent, in interleaved sessions ---------------------
CONFIRMED, REJECTED = BAD, GOOD       # a confirmation's outcomes, in verdict terms


class ConfirmJudge(_Contaminated):
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
        self.b = _fitted(_Baselines(good, bad, improvement), self.p)
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
        return _wald(self.p, llr, (CONFIRMED, REJECTED), n, self.p.confirm_pairs, "pairs",
                     2 - (len(parent) - n), why)


def prepare_confirm(good, bad, improvement: str, params: SprtParams | None = None) -> ConfirmJudge:
    """A confirmation judge over these baselines (sequences of session values)."""
    _check_improvement(improvement)
    return ConfirmJudge(good, bad, improvement, params)
