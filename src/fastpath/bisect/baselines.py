"""Checks on the two baselines before a bisection starts (pure; `bisect start` and the simulator).

A bisection between a good and a bad swprofile only makes sense when the bad one is worse, in
the result class's direction: bisecting an improvement wastes a lab for days. The check is
Welch's t-test over per-session values (analysis/stats.py) at alpha 0.05, two-sided, plus
the direction, plus whatever the verdict policy needs (``judge.problem()``, e.g. sprt says
when the baselines are too close to tell apart within its cap).

``check_ends`` is what `bisect start` asks: a refusal only when the ends are not different in
the regression direction (bad significantly better, or bad's mean not worse at all, or fewer
than 2 sessions of one); when bad is worse but not significantly so, or the policy cannot
tell the ends apart yet (too few or too noisy baselines), a record of that
(``Context.ends_not_apart``): the engine measures the ends itself, the per-commit flow needs
more baseline sessions first (``advice``). ``difference_problem`` is the older, stricter
question (significantly worse, or why not), which the simulator still asks.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from fastpath.analysis.stats import compare, summarize


def _interval(s) -> str:
    if s.ci95min is None:
        return f"mean {s.mean:.6g} (no interval: {s.count} value)"
    return f"mean {s.mean:.6g} [{s.ci95min:.6g}, {s.ci95max:.6g}] over {s.sessions} sessions"


def _both(sg, sb, improvement: str, good_name: str, bad_name: str) -> str:
    """Both baselines' means and 95% intervals, and which way is better: every refusal's tail."""
    return (f"good '{good_name}' {_interval(sg)}, bad '{bad_name}' {_interval(sb)} "
            f"({improvement} is better)")


def difference_problem(good, bad, improvement: str, good_name: str = "good",
                       bad_name: str = "bad") -> str | None:
    """None when ``bad`` is significantly worse than ``good``; otherwise why not, with both
    means and 95% intervals. ``good``/``bad``: per-session values."""
    if len(good) < 2 or len(bad) < 2:
        return (f"need at least 2 sessions of each baseline to know the noise: '{good_name}' has "
                f"{len(good)}, '{bad_name}' has {len(bad)}")
    sg, sb = summarize(good, range(len(good))), summarize(bad, range(len(bad)))
    cmp = compare(sg, sb, improvement)
    both = _both(sg, sb, improvement, good_name, bad_name)
    if cmp.significance == "R":
        return None
    if cmp.significance == "I":
        return f"'{bad_name}' is better than '{good_name}', not worse: {both}"
    p = "n/a" if cmp.p_value is None else f"{cmp.p_value:.3g}"
    return f"no significant difference between the baselines (Welch p={p} >= 0.05): {both}"


@dataclass
class EndsCheck:
    refusal: str | None = None       # not different in the regression direction: refuse (why)
    not_apart: dict | None = None    # worse, but not yet told apart: the context's record


def _block(s) -> dict:
    return {"mean": float(s.mean), "ci95": None if s.ci95min is None else [float(s.ci95min), float(s.ci95max)],
            "sessions": int(s.sessions)}


def _welch_sessions(good, bad, gap: float) -> int | None:
    """Sessions of each baseline at which this gap, at this noise, would be significant
    (t about 2 with equal counts): 4 (var_good + var_bad) / gap^2, rounded up; None without
    a gap."""
    if gap <= 0:
        return None
    return max(math.ceil(4 * (statistics.variance(good) + statistics.variance(bad)) / gap ** 2),
               max(len(good), len(bad)) + 1)


def check_ends(good, bad, improvement: str, judge_problem: str | None = None, good_name: str = "good",
               bad_name: str = "bad") -> EndsCheck:
    """Refuse ends that are not different in the regression direction; record ends that are
    worse but not yet told apart (Welch p >= 0.05, or ``judge_problem``: the policy's own
    reason, with its advice). ``good``/``bad``: per-session values."""
    if len(good) < 2 or len(bad) < 2:
        return EndsCheck(refusal=difference_problem(good, bad, improvement, good_name, bad_name))
    sg, sb = summarize(good, range(len(good))), summarize(bad, range(len(bad)))
    cmp = compare(sg, sb, improvement)
    sign = 1.0 if improvement == "lower" else -1.0       # badness axis: bad minus good, worse > 0
    gap = sign * (sb.mean - sg.mean)
    if cmp.significance == "I":
        return EndsCheck(refusal=difference_problem(good, bad, improvement, good_name, bad_name))
    if gap <= 0:
        both = _both(sg, sb, improvement, good_name, bad_name)
        return EndsCheck(refusal=f"'{bad_name}' is not worse than '{good_name}' at all: {both}")
    if cmp.significance == "R" and not judge_problem:
        return EndsCheck()
    if cmp.significance != "R":
        reason = difference_problem(good, bad, improvement, good_name, bad_name)
        k = _welch_sessions([float(v) for v in good], [float(v) for v in bad], gap)
        advice = judge_problem or (f"record about {k} sessions of each baseline (the gap is not significant "
                                   f"at this noise)" if k else "record more sessions of each baseline")
    else:
        both = _both(sg, sb, improvement, good_name, bad_name)
        reason = (f"bad is significantly worse (Welch p={cmp.p_value:.3g} < 0.05: {both}), but the policy "
                  f"cannot tell the ends apart yet")
        advice = judge_problem
    return EndsCheck(not_apart={"reason": reason, "advice": advice,
                                "p_value": None if cmp.p_value is None else float(cmp.p_value),
                                "good": _block(sg), "bad": _block(sb)})


def _what(record: dict) -> str:
    reason, advice = record.get("reason") or "", record.get("advice") or ""
    return reason if not advice or advice == reason else f"{reason}; {advice}"


def not_apart_warning(record: dict, end_budget: int) -> str:
    """`bisect start`'s one warning line for ends not yet told apart: what follows."""
    advice = record.get("advice") or "record more sessions of each baseline"
    return (f"warning: the ends are not yet told apart ({record.get('reason')}): `fastpath bisect auto` (the "
            f"engine) measures the ends itself, up to end_budget={end_budget} end sessions; the per-commit flow "
            f"(`git bisect run` with `bisect run`, `bisect auto --engine git`) needs more baseline sessions "
            f"first: {advice}")


def not_apart_error(record: dict, path) -> str:
    """The per-commit flow's one line (`bisect run`, `bisect auto --engine git`) on such a context."""
    return (f"{path}: the ends are not yet told apart ({_what(record)}); the per-commit flow needs them told "
            f"apart first: record more baseline sessions and run `fastpath bisect start` again, or bisect with "
            f"the engine (`fastpath bisect auto`), which measures the ends itself")
