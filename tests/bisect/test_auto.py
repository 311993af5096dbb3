"""`fastpath bisect auto` without the lab: real git repositories and real `git bisect run`,
with oracle scripts in place of the kernel build and the benchmark (each commit's value.txt
says what it is), to reach every way a round can end. The lab tests
(test_lab_bisection.py) run the same code with real kernels, boots and confirmations.

value.txt: a number (above 102 is the regression), "broken" (does not build), "flaky:N" (the
bisection step cannot decide: skip; a confirmation can: N), "down" (the SUT is unreachable: 128).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time

import pytest

from fastpath.bisect import auto, confirm as confirms
from fastpath.bisect import context as contexts
from fastpath.bisect.verdict import BAD, GOOD, Decision
from fastpath.errors import UserError
from tests.bisect.conftest import BENCH, RC, make_baseline_store
from tests.bisect.test_driver import git, make_repo
from tests.bisect.test_run import cli_status, closed_port

STEP = r'''#!/usr/bin/env python3
"""execute_bisection.sh's stand-in: the checked-out commit's recorded value decides."""
import sys
value = open("value.txt").read().strip()
if value == "broken":
    print("Result: SKIP: commit does not build."); sys.exit(125)
if value.startswith("flaky:"):
    print("Result: UNDECIDED (skip)"); sys.exit(125)
if value == "down":
    print("Error: cannot reach the SUT (injected)"); sys.exit(128)
sys.exit(1 if float(value) > 102 else 0)
'''
BUILD = r'''#!/usr/bin/env python3
"""build_local_kernel.sh's stand-in: "broken" fails; otherwise an image file per commit."""
import os, pathlib, subprocess, sys
if open("value.txt").read().strip() == "broken":
    print("build_local_kernel.sh: build failed: error: injected", file=sys.stderr); sys.exit(1)
sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
out = pathlib.Path(".fastpath-build") / sha[:12]
out.mkdir(parents=True, exist_ok=True)
(out / "bzImage").write_text(sha)
pathlib.Path(os.environ["FASTPATH_ENV_FILE"]).write_text(
    f"KERNEL_PATH={out.resolve() / 'bzImage'}\nMODULES_PATH=\nGITSHA={sha}\n")
'''


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    for name, text in (("execute_bisection.sh", STEP), ("build_local_kernel.sh", BUILD)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder


def history(tmp_path, values):
    shas = make_repo(tmp_path, values)
    repo = tmp_path / "repo"
    (repo / ".gitignore").write_text(".fastpath-build/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "--amend", "--no-edit")     # the head keeps its value, gets the ignore file
    shas[-1] = git(repo, "rev-parse", "HEAD")
    ctx = contexts.Context(plan={"sut": {"name": "lab", "connection": {"method": "SSH", "params": {
        "host": "127.0.0.1", "port": closed_port()}}, "boot_timeout": 3}, "swprofiles": [{}], "benchmarks": [{"include": "fp/syscall.yaml"}]},
        good_swprofile="v-good", good_sha=shas[0], bad_swprofile="v-bad",
        bad_sha=shas[-1], resultclass=RC, resultstore="sqlite:////nonexistent/orig.db",
        output_resultstore=make_baseline_store(f"sqlite:///{tmp_path}/out.db"), benchmark=BENCH,
        improvement="lower")
    contexts.save(ctx, tmp_path / "ctx.yaml")
    return repo, shas


class FakeConfirm:
    """`bisect confirm` decided by the recorded values, not by boots (the lab tests measure):
    REJECTED answers can be injected to stand for a machine that drifted."""

    def __init__(self, repo, reject: int = 0):
        self.repo, self.reject, self.calls = repo, reject, []

    def value(self, sha):
        return float(git(self.repo, "show", f"{sha}:value.txt").removeprefix("flaky:"))

    def __call__(self, context_path, kernel, modules, gitsha, parent_kernel, parent_modules, parent_gitsha,
                 progress=True):
        assert pathlib.Path(kernel).read_text() == gitsha
        assert pathlib.Path(parent_kernel).read_text() == parent_gitsha
        self.calls.append(gitsha)
        if len(self.calls) <= self.reject:
            return confirms.ConfirmResult(confirms.REJECTED, "Confirm: REJECTED (injected)", Decision(GOOD, 2, 0))
        step = self.value(gitsha) > 102 >= self.value(parent_gitsha)
        outcome = confirms.CONFIRMED if step else confirms.REJECTED
        return confirms.ConfirmResult(outcome, f"Confirm: {outcome}.", Decision(BAD if step else GOOD, 2, 0), 4)


def options(tmp_path, repo, scripts, **kw):
    return auto.AutoOptions(context=str(tmp_path / "ctx.yaml"), tree=str(repo), scripts=str(scripts),
                            progress=False, **kw)


def assert_tree_back(repo):
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert subprocess.run(["git", "-C", str(repo), "bisect", "log"], capture_output=True).returncode != 0
    assert git(repo, "status", "--porcelain") == ""


def test_a_named_and_confirmed_culprit_is_one_round(tmp_path, scripts):
    repo, shas = history(tmp_path, ["100"] * 5 + ["104"] * 8)
    fake, said = FakeConfirm(repo), []
    result = auto.bisect_tree(options(tmp_path, repo, scripts), say=said.append, confirm_fn=fake)
    [rnd] = result.rounds
    assert result.culprit == rnd.found == shas[5] and result.exit_code == 0
    assert fake.calls == [shas[5]] and rnd.confirm_sessions == 4
    assert rnd.steps["good"] + rnd.steps["bad"] >= 3 and rnd.steps["skip"] == 0
    assert f"{shas[5]} is the first bad commit" in pathlib.Path(rnd.log).read_text()
    assert auto.summary(result).startswith(f"First bad commit: {shas[5]} (confirmed against its parent)")
    assert_tree_back(repo)


def test_only_skipped_candidates_are_confirmed_oldest_first(tmp_path, scripts, monkeypatch):
    # fixed dates: the same commit ids every run, and with them git's order of the candidates
    # (it follows the ids), which for this history is not the history's order
    for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(var, "2026-01-06T15:00:00+0000")
    repo, shas = history(tmp_path, ["100"] * 5 + ["flaky:104"] * 2 + ["104"] * 6)
    fake = FakeConfirm(repo)
    result = auto.bisect_tree(options(tmp_path, repo, scripts), say=lambda line: None, confirm_fn=fake)
    [rnd] = result.rounds
    assert rnd.found is None and rnd.candidates == shas[5:8]
    assert auto.skipped_candidates(pathlib.Path(rnd.log).read_text()) != shas[5:8]   # git's order is not history's
    assert fake.calls == [shas[5]] and result.culprit == shas[5]


def test_a_candidate_nothing_can_measure_is_not_retried(tmp_path, scripts):
    # the culprit's parent does not build: neither candidate can be confirmed, and fresh
    # baselines would not change that
    repo, shas = history(tmp_path, ["100"] * 5 + ["broken", "104"] + ["104"] * 5)
    fake = FakeConfirm(repo)
    result = auto.bisect_tree(options(tmp_path, repo, scripts, retries=2), say=lambda line: None, confirm_fn=fake)
    [rnd] = result.rounds
    assert sorted(rnd.candidates) == sorted([shas[5], shas[6]]) and fake.calls == []
    assert [r.untestable for _, r in rnd.confirmations] == [True, True] and not rnd.retryable
    assert "does not build" in rnd.confirmations[0][1].line
    assert result.culprit is None and result.exit_code == 1 and result.reason == "none of 2 candidates confirmed"
    assert_tree_back(repo)


def test_a_rejected_culprit_is_retried_with_fresh_baselines(tmp_path, scripts):
    repo, shas = history(tmp_path, ["100"] * 3 + ["104"] * 4)
    said = []
    # no retries left: the honest inconclusive end
    result = auto.bisect_tree(options(tmp_path, repo, scripts, retries=0), say=said.append,
                              confirm_fn=FakeConfirm(repo, reject=1))
    [rnd] = result.rounds
    assert rnd.found == shas[3] and rnd.retryable and result.culprit is None and result.exit_code == 1
    assert result.reason == f"{shas[3][:12]} not confirmed"
    # one retry: the good and bad kernels are built and the fresh baselines recorded, here on a
    # SUT that cannot be reached (the lab test records them): that ends it in one line
    result = auto.bisect_tree(options(tmp_path, repo, scripts, retries=1), say=said.append,
                              confirm_fn=FakeConfirm(repo, reject=1))
    assert len(result.rounds) == 1 and result.culprit is None
    assert result.reason.startswith("retry 1: ") and "127.0.0.1" in result.reason, result.reason
    assert any(line.startswith("[retry 1/1] not confirmed") for line in said)
    assert (repo / ".fastpath-build" / shas[0][:12] / "bzImage").is_file()      # both kernels built
    assert (repo / ".fastpath-build" / shas[-1][:12] / "bzImage").is_file()
    assert not (tmp_path / "ctx.retry1.yaml").exists()
    assert_tree_back(repo)


def test_git_bisect_stopping_is_reported_not_retried(tmp_path, scripts):
    repo, shas = history(tmp_path, ["100"] * 3 + ["down"] + ["104"] * 3)
    result = auto.bisect_tree(options(tmp_path, repo, scripts), say=lambda line: None,
                              confirm_fn=FakeConfirm(repo))
    [rnd] = result.rounds
    assert rnd.stopped.startswith("git bisect run stopped: Error: cannot reach the SUT (injected)")
    assert rnd.confirmations == [] and result.exit_code == 2 and result.reason == rnd.stopped
    assert_tree_back(repo)


def test_the_command_prints_the_summary_and_exits_2_when_stopped(tmp_path, scripts, capsys):
    repo, _ = history(tmp_path, ["100"] * 3 + ["down"] + ["104"] * 3)
    status = cli_status(["bisect", "auto", "--engine", "git", "--context", str(tmp_path / "ctx.yaml"), "--tree", str(repo),
                         "--scripts", str(scripts), "--no-progress"])
    out = capsys.readouterr().out
    assert status == 2 and "No confirmed culprit: git bisect run stopped: Error: cannot reach the SUT" in out, out
    assert "bisection: " in out and "commits tried" in out


def test_a_failure_while_steps_run_stops_them_before_the_tree_is_reset(tmp_path, scripts):
    repo, shas = history(tmp_path, ["100"] * 8 + ["104"] * 8)
    step = scripts / "execute_bisection.sh"
    step.write_text(STEP.replace('value = open("value.txt").read().strip()',
                                 'import time; open("../visits", "a").write("x"); time.sleep(0.5)\n'
                                 'value = open("value.txt").read().strip()'))

    def say(line):                        # the user's terminal went away, say, after the first step
        if "Bisecting:" in line:
            raise BrokenPipeError("stdout closed")

    with pytest.raises(BrokenPipeError):
        auto.bisect_tree(options(tmp_path, repo, scripts), say=say, confirm_fn=FakeConfirm(repo))
    time.sleep(1.5)                       # steps left running would have made 3 or 4 visits by now
    assert (tmp_path / "visits").read_text() in ("x", "xx")     # the first step, and the next one killed
    assert_tree_back(repo)


def test_a_failed_git_bisect_reset_is_one_line_not_silence(tmp_path, scripts):
    repo, shas = history(tmp_path, ["100"] * 3 + ["104"] * 3)
    (scripts / "execute_bisection.sh").write_text("#!/bin/sh\necho changed > value.txt\nexit 128\n")
    with pytest.raises(UserError, match=r"git bisect reset in .*repo failed: .*; the tree is left mid-bisection"):
        auto.bisect_tree(options(tmp_path, repo, scripts), say=lambda line: None, confirm_fn=FakeConfirm(repo))


def test_retry_contexts_never_overwrite_one(tmp_path):
    ctx = tmp_path / "bisection_context.yaml"
    assert auto.retry_path(ctx) == tmp_path / "bisection_context.retry1.yaml"
    (tmp_path / "bisection_context.retry1.yaml").write_text("")
    assert auto.retry_path(ctx) == tmp_path / "bisection_context.retry2.yaml"
    assert auto.retry_path(tmp_path / "bisection_context.retry1.yaml") == tmp_path / "bisection_context.retry2.yaml"


def test_the_tree_is_checked_first(tmp_path, scripts):
    repo, shas = history(tmp_path, ["100", "104"])
    with pytest.raises(UserError, match="not a git work tree"):
        auto.bisect_tree(options(tmp_path, tmp_path / "scripts", scripts))
    git(repo, "bisect", "start")
    with pytest.raises(UserError, match="a git bisect is already in progress there; `git bisect reset` first"):
        auto.bisect_tree(options(tmp_path, repo, scripts))
    git(repo, "bisect", "reset")
    (repo / "value.txt").write_text("99\n")
    with pytest.raises(UserError, match=r"has uncommitted changes \(M value.txt\); commit or stash them first"):
        auto.bisect_tree(options(tmp_path, repo, scripts))
    git(repo, "checkout", "value.txt")
    (tmp_path / "other").mkdir()
    history(tmp_path / "other", ["1", "2"])
    ctx = contexts.load(tmp_path / "other" / "ctx.yaml")
    contexts.save(ctx, tmp_path / "ctx.yaml")
    with pytest.raises(UserError, match=r"ctx.yaml: good_sha [0-9a-f]{40} is not a commit in .*repo"):
        auto.bisect_tree(options(tmp_path, repo, scripts))


def test_no_scripts_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match=r"cannot find execute_bisection.sh in .*nowhere"):
        auto.find_scripts(str(tmp_path / "nowhere"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_the_git_flow_refuses_a_context_whose_ends_are_not_told_apart(tmp_path, scripts, sshd):
    """`bisect auto --engine git` on such a context: one line with the policy's advice, before
    the tree is touched (no git bisect, no build)."""
    from tests.bisect.test_search import started_not_apart

    repo, shas = history(tmp_path, [str(v) for v in (100, 100, 101.5, 101.5)])
    path = started_not_apart(tmp_path, sshd, shas, bad_mean=101.5, sessions=3)
    with pytest.raises(UserError, match=r"the ends are not yet told apart \(no significant difference") as exc:
        auto.bisect_tree(auto.AutoOptions(context=str(path), tree=str(repo), scripts=str(scripts), progress=False))
    assert "policy sprt could not tell them apart" in str(exc.value) and "\n" not in str(exc.value)
    assert_tree_back(repo)
    assert not (repo / ".fastpath-build").exists()
    proc = subprocess.run(["python3", "-m", "fastpath", "bisect", "auto", "--engine", "git", "--context", str(path),
                           "--tree", str(repo), "--scripts", str(scripts)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "the ends are not yet told apart" in proc.stderr and not proc.stdout
