"""End to end on the lab: a real kernel history, real builds, a real QEMU SUT.

It runs `fastpath lab demo`'s code (fastpath.lab.demo.run_demo): a plan records the good and
bad baselines on the lab VM, `bisect start` writes the context, then `bisect auto` in the
kernel tree. The first test runs its default engine on a history of 8 commits after the lab
base with a culprit (getppid() made ~3x slower, so that it stands out of the noise of a busy
2-core machine running TCG), a commit whose kernel panics at boot (the next one reverts it)
and one that does not build (the next one fixes it); the second runs `--engine git` (the
seed's `git bisect run scripts/execute_bisection.sh`, `bisect confirm`) with an injected
rejection, and checks fresh baselines and a second bisection.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastpath.bisect import confirm as confirms
from fastpath.bisect import context as contexts
from fastpath.lab import cache, demo, history
from fastpath.store import open_store

COMMITS, SEED, REGRESSION = 8, 3, 200
def _git(tree, *argv):
    return subprocess.run(["git", "-C", str(tree), *argv], capture_output=True, text=True, check=True).stdout


@pytest.mark.lab
def test_the_engine_finds_the_culprit_past_a_panic_and_a_broken_build(lab_tree, lab_kernel, tmp_path):
    """`bisect auto` with its default engine on the lab: the panicking commit sits where the
    engine boots first (the middle of the range), the broken one next to the culprit; both are
    routed around, the culprit named with its posterior and step, the answer written into git."""
    culprit, broken, panic = 6, 7, 4
    options = demo.DemoOptions(workdir=str(tmp_path), tree=str(lab_tree), commits=COMMITS,
                               regression_pct=REGRESSION, seed=SEED, culprit_at=culprit, broken_build_at=broken,
                               panic_at=panic, sessions=3, repeats=5, iterations=200000, progress=False)
    said = []
    try:
        result = demo.run_demo(options, say=said.append)
        log = _git(lab_tree, "bisect", "log")
        _git(lab_tree, "bisect", "reset")
    finally:
        cache.reset_to_base(lab_tree)
    print("\n".join(said), "\n", demo.summary(result), file=sys.stderr)
    hist = history.load(lab_tree)
    r = result.bisection
    assert r.answer.status == "found" and result.correct and result.found == hist["culprit"], demo.summary(result)
    assert r.answer.culprit.probability >= 0.999
    assert r.answer.culprit.step > 0                      # getppid() got slower: ns per call up
    assert hist["panic"][0] in r.untestable and "did not come back" in r.untestable[hist["panic"][0]]
    if hist["broken_build"][0] in r.untestable:
        assert "does not build" in r.untestable[hist["broken_build"][0]]
    assert f"# first bad commit: [{hist['culprit']}]" in log
    ctx = contexts.load(tmp_path / "bisection_context.yaml")
    assert ctx.engine["status"] == "found" and ctx.engine["answer"]["culprit"]["sha"] == hist["culprit"]
    assert len(ctx.engine["sessions"]) == r.taken == r.answer.sessions
    with open_store(ctx.output_resultstore, readonly=True) as out_store:
        names = {s.id for s in out_store.swprofiles()}
    assert f"bisect-{hist['culprit'][:12]}" in names
    with open_store(ctx.resultstore, readonly=True) as original:     # never written by the bisection
        assert {s.id for s in original.swprofiles()} == {"demo-good", "demo-bad"}
    assert "CORRECT" in demo.summary(result)


class FakeStaleBaselinesConfirm:
    """Injects the fault a drifting machine causes, which the lab cannot produce on demand:
    the first `bisect confirm` answers REJECTED without booting anything (as if the
    bisection's verdicts had been made against stale baselines); later calls are the real
    confirmation."""

    def __init__(self):
        self.calls = []

    def __call__(self, context_path, *args, **kwargs):
        self.calls.append(context_path)
        if len(self.calls) == 1:
            return confirms.ConfirmResult(confirms.REJECTED, "Confirm: REJECTED (injected by the test: stale baselines)")
        return confirms.confirm(context_path, *args, **kwargs)


@pytest.mark.lab
def test_an_unconfirmed_culprit_gets_fresh_baselines_and_a_second_bisection(lab_tree, lab_kernel, tmp_path):
    options = demo.DemoOptions(workdir=str(tmp_path), tree=str(lab_tree), commits=4, regression_pct=REGRESSION,
                               engine="git",
                               seed=SEED, culprit_at=2, sessions=4, repeats=5, iterations=200000, retries=1,
                               progress=False)
    fake = FakeStaleBaselinesConfirm()
    said = []
    try:
        result = demo.run_demo(options, say=said.append, confirm_fn=fake)
    finally:
        cache.reset_to_base(lab_tree)
    print("\n".join(said), "\n", demo.summary(result), file=sys.stderr)
    hist = history.load(lab_tree)

    first, second = result.bisection.rounds
    assert first.found == hist["culprit"] and first.culprit is None and first.retryable
    assert second.culprit == hist["culprit"] and result.correct, demo.summary(result)
    assert second.confirmations[0][1].outcome == confirms.CONFIRMED and second.confirm_sessions >= 2
    assert fake.calls == [first.context, second.context]
    assert "CORRECT" in demo.summary(result) and "retry 1 (fresh baselines: " in demo.summary(result)

    old, new = contexts.load(first.context), contexts.load(second.context)
    assert second.context == str(tmp_path / "bisection_context.retry1.yaml")
    assert (new.good_swprofile, new.bad_swprofile) == ("demo-good-rebase1", "demo-bad-rebase1")
    assert (new.good_sha, new.bad_sha) == (old.good_sha, old.bad_sha) == (hist["base"], hist["head"])
    assert new.resultstore == old.output_resultstore != new.output_resultstore
    with open_store(new.output_resultstore, readonly=True) as store:
        names = {s.id for s in store.swprofiles()}
        fresh = [len(store.sessions(new.sut, n)) for n in (new.good_swprofile, new.bad_swprofile)]
    # the new bisection's store: the fresh baselines and its own steps, nothing of the stale one
    assert {"demo-good-rebase1", "demo-bad-rebase1"} <= names and not names & {"demo-good", "demo-bad"}
    assert second.baseline_sessions == sum(fresh) >= 8 and min(fresh) >= 4
    assert second.tested and all(t["sessions_run"] > 0 for t in second.tested if t["outcome"] != "SKIP")
    with open_store(old.resultstore, readonly=True) as original:     # never written by either bisection
        assert {s.id for s in original.swprofiles()} == {"demo-good", "demo-bad"}

