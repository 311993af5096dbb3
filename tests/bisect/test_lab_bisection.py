"""End to end on the lab: a real kernel history, real builds, a real QEMU SUT, real git bisect.

One history of 8 commits after the lab base: the culprit (getppid() made ~30% slower) at 6, a
commit that does not build at 2 (3 fixes it) and one whose kernel panics at boot at 4 (5
reverts it). git bisect's first picks are 4 and 2 (both untestable), so one run proves all
three: the culprit is found although one commit does not build (skipped, 125) and one
panics (skipped, 125, after the SUT is power-cycled back). The seed's exact sequence is
used: `fastpath bisect start`, then in the kernel tree `git bisect start; git bisect good;
git bisect bad; git bisect run scripts/execute_bisection.sh ctx.yaml`.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import pytest
import yaml

from fastpath.cli.main import main
from fastpath.lab import cache, history, kernel, vm
from fastpath.store import open_store

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "execute_bisection.sh"
BENCH, RC = "fp/syscall", "fpsyscall-getppid"


def sh(cwd, *argv, check=True, timeout=3600):
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.lab
def test_bisection_finds_the_culprit_past_a_broken_build_and_a_panic(lab_tree, lab_kernel, tmp_path):
    tree = lab_tree
    cache.reset_to_base(tree)
    hist = history.make_history(tree, 8, regression_pct=30, seed=3, culprit_at=6, broken_build_at=2,
                                panic_at=4)
    sh(tree, "git", "checkout", "-q", hist["head"])
    bad_build = kernel.build(tree)
    sh(tree, "git", "checkout", "-q", "lab-history")

    lab = vm.up(lab_kernel.image, home=tmp_path / "lab")
    try:
        sut = lab.sut()
        plan = {"sut": sut,
                "swprofiles": [
                    {"name": "lab-good", "kernel": str(lab_kernel.image), "modules": str(lab_kernel.modules),
                     "kernel_git_sha": hist["base"]},
                    {"name": "lab-bad", "kernel": str(bad_build.image), "modules": str(bad_build.modules),
                     "kernel_git_sha": hist["head"]}],
                "benchmarks": [{"include": "fp/syscall.yaml", "params": {"iterations": 300000}}],
                "defaults": {"benchmark": {"warmups": 1, "repeats": 3, "sessions": 4}}}
        (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
        store = f"sqlite:///{tmp_path}/baselines.db"
        assert main(["plan", "exec", "--output", store, "--no-progress", str(tmp_path / "plan.yaml")]) == 0

        ctx = tmp_path / "ctx.yaml"
        params = sut["connection"]["params"]
        assert main(["bisect", "start", "--host", params["host"], "--user", params["user"],
                     "--port", str(params["port"]), "--keyfile", params["keyfile"],
                     "--known-hosts", params["known_hosts"], "--power-cycle", sut["power_cycle"],
                     "--boot-timeout", "60", "--sut", sut["name"], "--good-swprofile", "lab-good",
                     "--bad-swprofile", "lab-bad", "--benchmark", BENCH, "--resultclass", RC,
                     "--resultstore", store, "--context", str(ctx)]) == 0
        data = yaml.safe_load(ctx.read_text())
        assert (data["good_sha"], data["bad_sha"]) == (hist["base"], hist["head"])

        started = time.monotonic()
        sh(tree, "git", "bisect", "start")
        sh(tree, "git", "bisect", "good", data["good_sha"])
        sh(tree, "git", "bisect", "bad", data["bad_sha"])
        run = sh(tree, "git", "bisect", "run", str(SCRIPT), str(ctx), check=False)
        log = sh(tree, "git", "bisect", "log").stdout
        elapsed = time.monotonic() - started
        out = run.stdout + run.stderr
        (tmp_path / "bisect-run.txt").write_text(out + "\n# git bisect log\n" + log)
        print(out, "\n", log, f"\nbisect run took {elapsed:.0f} s", file=sys.stderr)
        assert f"{hist['culprit']} is the first bad commit" in run.stdout, out
        skipped = {ln.split()[2] for ln in log.splitlines() if ln.startswith("git bisect skip")}
        assert hist["broken_build"][0] in skipped and hist["panic"][0] in skipped, log
        assert "does not build" in out and "the kernel did not boot" in out
        assert "Result: REGRESSION detected for resultclass 'fpsyscall-getppid' comparing 'bisect-" in out
        assert "Result: NO REGRESSION detected" in out
        tested = yaml.safe_load(ctx.read_text())["tested"]
        assert {t["outcome"] for t in tested} == {"GOOD", "BAD", "SKIP"}
        with open_store(data["output-resultstore"], readonly=True) as out_store:
            names = {s.id for s in out_store.swprofiles()}
        assert f"bisect-{hist['culprit'][:12]}" in names
        with open_store(store, readonly=True) as original:     # never written by the bisection
            assert {s.id for s in original.swprofiles()} == {"lab-good", "lab-bad"}
    finally:
        if (tree / ".git" / "BISECT_LOG").exists():
            sh(tree, "git", "bisect", "reset", "-q", check=False)
        vm.down(tmp_path / "lab")
        cache.reset_to_base(tree)
