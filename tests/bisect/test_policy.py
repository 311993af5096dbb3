"""Verdict policies on seeded samples: direction, both outcomes, UNDECIDED/need, cap, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from fastpath.bisect import policy
from fastpath.bisect.baselines import difference_problem
from fastpath.bisect.verdict import BAD, GOOD, SKIP, UNDECIDED
from fastpath.errors import UserError

RNG_SEED = 7


def baselines(improvement, effect=4.0, k=20, sd=1.0, seed=RNG_SEED):
    """Good at 100, bad `effect` sds worse in the result class's direction."""
    rng = np.random.default_rng(seed)
    worse = 1.0 if improvement == "lower" else -1.0
    good = list(100 + sd * rng.standard_normal(k))
    bad = list(100 + worse * effect * sd + sd * rng.standard_normal(k))
    return good, bad, worse, rng


def run_until_final(judge, draw):
    values = []
    d = judge.decide(values)
    while d.outcome == UNDECIDED:
        assert d.need >= 1
        values.extend(draw() for _ in range(d.need))
        d = judge.decide(values)
    return d


@pytest.mark.parametrize("name", policy.POLICIES)
@pytest.mark.parametrize("improvement", ["higher", "lower"])
def test_like_good_and_like_bad_in_both_directions(name, improvement):
    good, bad, worse, rng = baselines(improvement, effect=6.0)
    judge = policy.prepare(name, good, bad, improvement)
    assert judge.problem() is None
    outcomes = {GOOD: 0, BAD: 0}
    for truth in (0.0, 6.0):
        centre = float(np.mean(bad if truth else good))
        for _ in range(20):
            # quiet tested boots: the seed rule misjudges ordinary noise (see the tests below)
            d = run_until_final(judge, lambda: centre + 0.1 * rng.standard_normal())
            outcomes[d.outcome] = outcomes.get(d.outcome, 0) + 1
            assert d.outcome == (BAD if truth else GOOD), d.reason
    assert outcomes == {GOOD: 20, BAD: 20}


def test_sprt_takes_one_session_at_a_time_and_needs_two():
    good, bad, worse, _ = baselines("lower", effect=4.0)
    judge = policy.prepare("sprt", good, bad, "lower")
    assert judge.decide([]) .outcome == UNDECIDED
    d1 = judge.decide([104.0])
    assert d1.outcome == UNDECIDED and d1.need == 1          # min_sessions = 2
    d2 = judge.decide([104.0, 104.1])
    assert d2.outcome == BAD and "log likelihood ratio" in d2.reason
    assert judge.decide([100.1, 99.8]).outcome == GOOD


def test_sprt_midway_commit_is_skipped_at_the_cap():
    good, bad, worse, _ = baselines("higher", effect=4.0)
    judge = policy.prepare("sprt", good, bad, "higher")
    mid = (np.mean(good) + np.mean(bad)) / 2
    cap = policy.SprtParams().max_sessions
    d = judge.decide([mid] * (cap - 1))
    assert d.outcome == UNDECIDED and d.need == 1
    d = judge.decide([mid] * cap)
    assert d.outcome == SKIP and "cap of 20 sessions" in d.reason


def test_sprt_one_wild_boot_does_not_decide():
    good, bad, worse, _ = baselines("lower", effect=4.0)
    judge = policy.prepare("sprt", good, bad, "lower")
    # A good commit whose second boot was disturbed far beyond the bad baseline.
    d = judge.decide([100.2, 140.0])
    assert d.outcome == UNDECIDED
    assert judge.decide([100.2, 140.0, 99.9, 100.1]).outcome == GOOD


def test_sprt_improvement_is_never_bad():
    """A commit far better than good is GOOD (the regression direction matters)."""
    good, bad, worse, _ = baselines("higher", effect=4.0)
    judge = policy.prepare("sprt", good, bad, "higher")
    assert judge.decide([110.0, 110.0, 110.0]).outcome != BAD


def test_sprt_refuses_baselines_too_close_and_says_how_many_sessions():
    good, bad, _, _ = baselines("lower", effect=1.0, k=10)
    judge = policy.prepare("sprt", good, bad, "lower")
    problem = judge.problem()
    assert problem and "record about" in problem and "sessions of each baseline" in problem


def test_bad_not_worse_is_a_problem_for_every_policy():
    good, bad, _, _ = baselines("lower", effect=4.0)
    for name in policy.POLICIES:
        # Same data read with the other direction: "bad" is now an improvement.
        assert "not worse" in policy.prepare(name, good, bad, "higher").problem()


def test_fastpath_ci_reading():
    rng = np.random.default_rng(3)
    good = list(100 + rng.standard_normal(10))
    bad = list(110 + rng.standard_normal(10))
    judge = policy.prepare("fastpath-ci", good, bad, "lower")
    half = judge.half_good
    mg = float(np.mean(good))
    # First look, conclusive: beyond 1.5 x the good CI half-width, on the regression side -> BAD.
    assert judge.decide([mg + 2 * half]).outcome == BAD
    assert judge.decide([mg - 2 * half]).outcome == GOOD
    # Inconclusive first look: 4 more sessions.
    d = judge.decide([mg + half])
    assert d.outcome == UNDECIDED and d.need == 4
    # Five sessions overlapping only good -> GOOD; only bad -> BAD; both -> SKIP.
    assert judge.decide([mg + half, 100, 100.2, 99.9, 100.1]).outcome == GOOD
    assert judge.decide([109.8, 110.1, 110, 110.2, 109.9]).outcome == BAD
    assert judge.decide([95, 115, 100, 110, 105]).outcome == SKIP
    # Interrupted at 3 sessions: asks for the rest of the 5.
    assert judge.decide([mg + half, 100, 100]).need == 2


def test_fastpath_ci_single_boot_misjudges_noise():
    """Why it is not the default: with many baseline sessions, one noisy boot of a good commit
    often lands 1.5 CI half-widths away and is called BAD at once."""
    rng = np.random.default_rng(11)
    good = list(100 + rng.standard_normal(20))
    bad = list(102 + rng.standard_normal(20))
    judge = policy.prepare("fastpath-ci", good, bad, "lower")
    calls = [judge.decide([100 + rng.standard_normal()]).outcome for _ in range(2000)]
    assert calls.count(BAD) / len(calls) > 0.05


def test_params_unknown_policy_and_key():
    with pytest.raises(UserError, match="--policy 'nope': unknown policy; choose one of sprt, fastpath-ci"):
        policy.params_for("nope")
    with pytest.raises(UserError, match="unknown parameter 'gamma'"):
        policy.params_for("sprt", {"gamma": 1})
    assert policy.describe("sprt", policy.params_for("sprt"))["params"]["alpha"] == 0.005


def test_baselines_need_two_sessions():
    with pytest.raises(UserError, match="at least 2 sessions each"):
        policy.prepare("sprt", [1.0], [2.0, 2.1], "lower")


def test_difference_problem_shows_both_means_and_intervals():
    assert difference_problem([100, 101, 99, 100.5], [110, 111, 109, 110.2], "lower") is None
    msg = difference_problem([100, 101, 99, 100.5], [100.2, 100.9, 99.1, 100.4], "lower", "v6.8", "v6.9")
    assert "no significant difference" in msg and "good 'v6.8' mean" in msg and "bad 'v6.9' mean" in msg
    assert msg.count("[") == 2
    msg = difference_problem([100, 101, 99, 100.5], [110, 111, 109, 110.2], "higher")
    assert "is better than" in msg
