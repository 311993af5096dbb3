"""Checks on the two baselines before a bisection starts (pure; `bisect start` and the simulator).

A bisection between a good and a bad swprofile only makes sense when the bad one is really
worse, in the result class's direction: bisecting noise wastes a lab for days. The check is
Welch's t-test over per-session values (analysis/stats.py) at alpha 0.05, two-sided, plus
the direction, plus whatever the verdict policy needs (``judge.problem()``, e.g. sprt says
when the baselines are too close to tell apart within its cap).
"""

from __future__ import annotations

from fastpath.analysis.stats import compare, summarize


def _interval(s) -> str:
    if s.ci95min is None:
        return f"mean {s.mean:.6g} (no interval: {s.count} value)"
    return f"mean {s.mean:.6g} [{s.ci95min:.6g}, {s.ci95max:.6g}] over {s.sessions} sessions"


def difference_problem(good, bad, improvement: str, good_name: str = "good",
                       bad_name: str = "bad") -> str | None:
    """None when ``bad`` is significantly worse than ``good``; otherwise why not, with both
    means and 95% intervals. ``good``/``bad``: per-session values."""
    if len(good) < 2 or len(bad) < 2:
        return (f"need at least 2 sessions of each baseline to know the noise: '{good_name}' has "
                f"{len(good)}, '{bad_name}' has {len(bad)}")
    sg, sb = summarize(good, range(len(good))), summarize(bad, range(len(bad)))
    cmp = compare(sg, sb, improvement)
    both = (f"good '{good_name}' {_interval(sg)}, bad '{bad_name}' {_interval(sb)} "
            f"({improvement} is better)")
    if cmp.significance == "R":
        return None
    if cmp.significance == "I":
        return f"'{bad_name}' is better than '{good_name}', not worse: {both}"
    p = "n/a" if cmp.p_value is None else f"{cmp.p_value:.3g}"
    return f"no significant difference between the baselines (Welch p={p} >= 0.05): {both}"
