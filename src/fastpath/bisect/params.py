"""The per-commit verdict policies' names and parameters (how each one decides: judges/).

``POLICIES`` names them (``DEFAULT_POLICY`` first); the name and the parameters are recorded in
the bisection context (``describe``). ``params_for`` builds a policy's parameter object with
overrides, range-checked; ``parse_overrides`` reads ``KEY=VALUE`` settings of them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from fastpath.errors import UserError

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
        raise UserError(f"unknown policy '{name}'; choose one of {', '.join(POLICIES)}")
    cls = PARAMS[name]
    overrides = dict(overrides or {})
    known = {f.name for f in fields(cls)}
    for key in overrides:
        if key not in known:
            raise UserError(f"policy '{name}': unknown parameter '{key}' (known: {', '.join(sorted(known))})")
    return cls(**overrides)


def parse_overrides(name: str, items) -> dict:
    """``KEY=VALUE`` strings as typed overrides of policy ``name``'s parameters: each value
    takes its default's type (yes/no/true/false/1/0 for flags). Not range-checked: params_for."""
    defaults = asdict(params_for(name))
    overrides = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"policy '{name}': bad parameter setting '{item}' (want KEY=VALUE)")
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
            raise UserError(f"policy '{name}': bad parameter {key}={value} (want {want})") from None
    return overrides


def describe(name: str, params) -> dict:
    """What the context records about the policy: {"name": ..., "params": {...}}."""
    return {"name": name, "params": asdict(params)}
