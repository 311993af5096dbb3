"""The judges of the per-commit verdict policies: is the tested commit like the good baseline
or like the bad one? And, for `bisect confirm`, is a named culprit worse than its parent?

Pure functions over per-session values (one value per boot: the mean of that session's
repeats; see analysis/stats.py for why the session is the unit), on the badness axis of the
noise model (noise.py):

    judge = prepare("sprt", good_values, bad_values, "higher")
    problem = judge.problem()        # None, or why these baselines cannot be bisected
    decision = judge.decide(tested_values)   # verdict.Decision: GOOD/BAD/UNDECIDED(need)/SKIP

One module per policy (``params.POLICIES``; the name is recorded in the bisection context):
``sprt`` (the default, sprt.py), ``fastpath-ci`` (the seed's rule, fastpath_ci.py); and the
confirmation (confirm.py). Their parameters: params.py.
"""

from __future__ import annotations

from fastpath.bisect.judges.confirm import CONFIRMED, REJECTED, ConfirmJudge
from fastpath.bisect.judges.fastpath_ci import CiJudge
from fastpath.bisect.judges.sprt import SprtJudge
from fastpath.bisect.noise import check_improvement
from fastpath.bisect.params import SprtParams, params_for

__all__ = ["CONFIRMED", "REJECTED", "CiJudge", "ConfirmJudge", "SprtJudge", "prepare", "prepare_confirm"]


def prepare(name: str, good, bad, improvement: str, params=None):
    """A judge for policy ``name`` over these baselines (sequences of session values)."""
    check_improvement(improvement)
    params = params if params is not None else params_for(name)
    cls = {"sprt": SprtJudge, "fastpath-ci": CiJudge}[name]
    return cls(good, bad, improvement, params)


def prepare_confirm(good, bad, improvement: str, params: SprtParams | None = None) -> ConfirmJudge:
    """A confirmation judge over these baselines (sequences of session values)."""
    check_improvement(improvement)
    return ConfirmJudge(good, bad, improvement, params)
