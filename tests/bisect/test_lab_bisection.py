"""End to end on the lab: a real kernel history, real builds, a real QEMU SUT, real git bisect.

It runs `fastpath lab demo`'s code (fastpath.lab.demo.run_demo), which is the seed's exact
sequence: a plan records the good and bad baselines on the lab VM, `bisect start` writes the
context, then `bisect auto` in the kernel tree: `git bisect start; git bisect good; git bisect
bad; git bisect run scripts/execute_bisection.sh ctx.yaml`, `bisect confirm` of the named
commit, and (second test) fresh baselines and a new bisection when it is not confirmed.

One history of 8 commits after the lab base: a culprit (getppid() made ~3x slower, so that it
stands out of the noise of a busy 2-core machine running TCG), a commit that does not build
(the next one fixes it) and one whose kernel panics at boot (the next one reverts it). The
positions are chosen so that git bisect visits both untestable commits: where git goes after a
skip depends on the commits' ids (it breaks ties by object id), so dry runs of `git bisect run`
with an oracle script (no build, no VM) over the same deterministic history pick them. One real
run then proves all three: the culprit is found although one commit does not build (skipped,
125) and one panics (skipped, 125, after the SUT is power-cycled back). Then `bisect confirm`
re-tests the named commit against its parent in alternating boots.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import pytest

from fastpath.bisect import auto, confirm as confirms
from fastpath.bisect import context as contexts
from fastpath.lab import cache, demo, history
from fastpath.store import open_store

COMMITS, SEED, REGRESSION = 8, 3, 200
ORACLE = r'''#!/usr/bin/env python3
"""git bisect run oracle: the recorded truth about the checked-out commit; no build, no SUT."""
import json, subprocess, sys
sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
record = json.load(open(".git/fastpath-lab-history.json"))
index = record["commits"].index(sha) + 1
with open(".git/oracle-visits", "a") as out:
    out.write(f"{index}\n")
if sha in record["broken_build"] or sha in record["panic"]:
    sys.exit(125)
sys.exit(1 if index >= record["culprit_index"] else 0)
'''


def _git(tree, *argv):
    return subprocess.run(["git", "-C", str(tree), *argv], capture_output=True, text=True, check=True).stdout


def positions_git_visits(tree, tmp_path):
    """(culprit, broken build, panic) positions whose history makes git bisect visit both
    untestable commits and still name the culprit (dry runs; the first candidate usually works)."""
    oracle = tmp_path / "oracle.py"
    oracle.write_text(ORACLE)
    oracle.chmod(0o755)
    first = [(3, 1, 4), (6, 7, 4)]
    rest = [t for t in itertools.product(range(2, COMMITS + 1), range(1, COMMITS), range(1, COMMITS))
            if len(set(t)) == 3 and abs(t[1] - t[2]) > 1 and t[0] - 1 not in t[1:] and t not in first]
    try:
        for culprit, broken, panic in first + rest:
            cache.reset_to_base(tree)
            hist = history.make_history(tree, COMMITS, regression_pct=REGRESSION, seed=SEED, culprit_at=culprit,
                                        broken_build_at=broken, panic_at=panic)
            (tree / ".git" / "oracle-visits").write_text("")
            _git(tree, "bisect", "start")
            _git(tree, "bisect", "good", hist["base"])
            _git(tree, "bisect", "bad", hist["head"])
            out = subprocess.run(["git", "-C", str(tree), "bisect", "run", str(oracle)], capture_output=True,
                                 text=True).stdout
            _git(tree, "bisect", "reset")
            visits = {int(v) for v in (tree / ".git" / "oracle-visits").read_text().split()}
            if {broken, panic} <= visits and f"{hist['culprit']} is the first bad commit" in out:
                return culprit, broken, panic
    finally:
        cache.reset_to_base(tree)
    pytest.fail(f"no history of {COMMITS} commits makes git bisect visit both a broken build and a panic")


@pytest.mark.lab
def test_bisection_finds_the_culprit_past_a_broken_build_and_a_panic(lab_tree, lab_kernel, tmp_path):
    culprit, broken, panic = positions_git_visits(lab_tree, tmp_path)
    options = demo.DemoOptions(workdir=str(tmp_path), tree=str(lab_tree), commits=COMMITS,
                               regression_pct=REGRESSION, seed=SEED, culprit_at=culprit, broken_build_at=broken,
                               panic_at=panic, sessions=5, repeats=5, iterations=500000, progress=False)
    said = []
    try:
        result = demo.run_demo(options, say=said.append)
    finally:
        cache.reset_to_base(lab_tree)
    out = (tmp_path / "bisection_context.log").read_text()
    print("\n".join(said), "\n", demo.summary(result), file=sys.stderr)
    hist = history.load(lab_tree)
    [rnd] = result.bisection.rounds

    assert f"{hist['culprit']} is the first bad commit" in out, out
    assert result.correct and result.found == hist["culprit"], out
    skipped = set(re.findall(r"^git bisect skip ([0-9a-f]{40})", out, re.M))
    assert skipped == {hist["broken_build"][0], hist["panic"][0]}, out
    assert rnd.steps["skip"] == 2 and rnd.steps["good"] >= 1 and rnd.steps["bad"] >= 1
    assert "does not build" in out and "the kernel did not boot" in out
    assert "Result: REGRESSION detected for resultclass 'fpsyscall-getppid' comparing 'bisect-" in out
    assert "Result: NO REGRESSION detected" in out
    [(confirmed, confirmation)] = rnd.confirmations
    assert confirmed == hist["culprit"] and confirmation.outcome == confirms.CONFIRMED
    assert rnd.confirm_sessions >= 2
    assert "CORRECT" in demo.summary(result)

    ctx = contexts.load(tmp_path / "bisection_context.yaml")
    assert (ctx.good_sha, ctx.bad_sha) == (hist["base"], hist["head"])
    assert {t["outcome"] for t in ctx.tested} == {"GOOD", "BAD", "SKIP"}
    assert rnd.bisect_sessions == sum(t["sessions_run"] for t in ctx.tested) > 0
    with open_store(ctx.output_resultstore, readonly=True) as out_store:
        names = {s.id for s in out_store.swprofiles()}
    assert f"bisect-{hist['culprit'][:12]}" in names
    with open_store(ctx.resultstore, readonly=True) as original:     # never written by the bisection
        assert {s.id for s in original.swprofiles()} == {"demo-good", "demo-bad"}


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
                               seed=SEED, culprit_at=2, sessions=4, repeats=5, iterations=500000, retries=1,
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

