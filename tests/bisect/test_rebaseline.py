"""`fastpath bisect rebaseline` without the lab: names, the advice loop, usage errors. The lab
test (test_lab_bisection.py) records fresh baselines on a real VM and bisects with them."""

from __future__ import annotations

import numpy as np
import pytest

from fastpath.bisect import context as contexts
from fastpath.bisect import judges
from fastpath.bisect.rebaseline import fresh_names, rebaseline, top_up
from fastpath.errors import UserError
from tests.bisect.test_run import ctx_file, kernel  # noqa: F401 (fixtures)


def test_fresh_names_count_up_and_never_stack(ctx_file):  # noqa: F811
    ctx = contexts.load(ctx_file)
    assert fresh_names(ctx, {"v-good", "v-bad"}) == ("v-good-rebase1", "v-bad-rebase1")
    assert fresh_names(ctx, {"v-bad-rebase1"}) == ("v-good-rebase2", "v-bad-rebase2")
    ctx.good_swprofile, ctx.bad_swprofile = "v-good-rebase1", "v-bad-rebase1"
    assert fresh_names(ctx, {"v-good-rebase1", "v-bad-rebase1"}) == ("v-good-rebase2", "v-bad-rebase2")


def test_top_up_records_what_the_policy_asks_for_then_stops():
    rng = np.random.default_rng(4)
    good, bad = list(100 + rng.standard_normal(8)), list(101.6 + rng.standard_normal(8))
    asked, said = [], []

    def judge():
        return judges.prepare("sprt", good, bad, "lower")

    def record(k):
        asked.append(k)
        good.extend(100 + rng.standard_normal(k - len(good)))
        bad.extend(101.6 + rng.standard_normal(k - len(bad)))

    assert judge().problem()                      # 8 sessions each cannot tell 1.6 sd apart
    have = top_up(judge, 8, record, 100, said.append)
    assert asked and have == asked[-1] == len(good) == len(bad) > 8
    assert not judge().problem()
    assert "following that advice: recording up to" in said[1]
    # nothing asked when the advice is over the limit: `bisect start` then refuses with the reason
    good[:], bad[:] = good[:8], bad[:8]
    asked.clear()
    assert top_up(judge, 8, record, 9) == 8 and asked == []


def test_usage_errors_name_the_parameter(ctx_file, kernel, tmp_path):  # noqa: F811
    ctx = contexts.load(ctx_file)
    with pytest.raises(UserError, match=r"^'bad_kernel' .*nope: no such file"):
        rebaseline(ctx, kernel, None, str(tmp_path / "nope"), None, str(tmp_path / "new.yaml"))
    with pytest.raises(UserError, match="^'new_context' .*: already exists"):
        rebaseline(ctx, kernel, None, kernel, None, str(ctx_file))
