"""End to end on the lab: a real kernel history, real builds, a real QEMU SUT, real git bisect.

It runs `fastpath lab demo`'s code (fastpath.lab.demo.run_demo), which is the seed's exact
sequence: a plan records the good and bad baselines on the lab VM, `bisect start` writes the
context, then in the kernel tree `git bisect start; git bisect good; git bisect bad;
git bisect run scripts/execute_bisection.sh ctx.yaml`.

One history of 8 commits after the lab base: the culprit at 3 (getppid() made ~3x slower, so
that it stands out of the noise of a busy 2-core machine running TCG), a commit that does not
build at 4 (5 fixes it) and one whose kernel panics at boot at 6 (7 reverts it). git bisect
visits 4, 6, 5, 2, 3 in that order (its choice after a skip is deterministic: checked on a toy
repository), so one run proves all three: the culprit is found although one commit does not
build (skipped, 125) and one panics (skipped, 125, after the SUT is power-cycled back). Then
`bisect confirm` re-tests the named commit against its parent in alternating boots.
"""

from __future__ import annotations

import re
import sys

import pytest

from fastpath.bisect import context as contexts
from fastpath.errors import UserError
from fastpath.lab import cache, demo, history
from fastpath.store import open_store


@pytest.mark.lab
def test_bisection_finds_the_culprit_past_a_broken_build_and_a_panic(lab_tree, lab_kernel, tmp_path):
    options = demo.DemoOptions(workdir=str(tmp_path), tree=str(lab_tree), commits=8, regression_pct=200,
                               seed=3, culprit_at=3, broken_build_at=4, panic_at=6, sessions=5, repeats=5,
                               iterations=500000, progress=False)
    said = []
    try:
        result = demo.run_demo(options, say=said.append)
    finally:
        cache.reset_to_base(lab_tree)
    out = (tmp_path / "bisect-run.log").read_text()
    print("\n".join(said), "\n", demo.summary(result), file=sys.stderr)
    hist = history.load(lab_tree)

    assert f"{hist['culprit']} is the first bad commit" in out, out
    assert result.correct and result.found == hist["culprit"], out
    skipped = set(re.findall(r"^git bisect skip ([0-9a-f]{40})", out, re.M))
    assert skipped == {hist["broken_build"][0], hist["panic"][0]}, out
    assert result.steps["skip"] == 2 and result.steps["good"] >= 1 and result.steps["bad"] >= 1
    assert "does not build" in out and "the kernel did not boot" in out
    assert "Result: REGRESSION detected for resultclass 'fpsyscall-getppid' comparing 'bisect-" in out
    assert "Result: NO REGRESSION detected" in out
    assert result.confirmation.startswith("Confirm: CONFIRMED") and result.confirm_sessions >= 2
    assert "CORRECT" in demo.summary(result)

    ctx = contexts.load(tmp_path / "bisection_context.yaml")
    assert (ctx.good_sha, ctx.bad_sha) == (hist["base"], hist["head"])
    assert {t["outcome"] for t in ctx.tested} == {"GOOD", "BAD", "SKIP"}
    assert result.bisect_sessions == sum(t["sessions_run"] for t in ctx.tested) > 0
    with open_store(ctx.output_resultstore, readonly=True) as out_store:
        names = {s.id for s in out_store.swprofiles()}
    assert f"bisect-{hist['culprit'][:12]}" in names
    with open_store(ctx.resultstore, readonly=True) as original:     # never written by the bisection
        assert {s.id for s in original.swprofiles()} == {"demo-good", "demo-bad"}


def test_demo_without_the_scripts_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match=r"cannot find execute_bisection.sh in .*nowhere"):
        demo.find_scripts(str(tmp_path / "nowhere"))
