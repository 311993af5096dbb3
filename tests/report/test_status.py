"""`bisect status`, `bisect log`, `bisect shas` and `bisect report --format json`, through the
library and through the CLI (a real shell evaluates `bisect shas`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fastpath.cli.main import cli
from fastpath.report import bisection, status, text
from tests.report import builder


@pytest.fixture(scope="module")
def git_run(tmp_path_factory):
    return builder.git_bisection(tmp_path_factory.mktemp("git"))


def lines(out: str) -> list[str]:
    return out.rstrip("\n").split("\n")


def test_status_of_a_finished_bisection(git_run):
    ctx, tree, shas = git_run
    out = lines(status.status(bisection.load(str(ctx), str(tree))))
    assert out[:5] == ["bisection of fp/syscall fpsyscall-getppid (lower is better), policy sprt",
                       f"context: {ctx}",
                       f'status: found: first bad commit {shas[5]} ("sys: make getppid() robust against '
                       'concurrent reparenting")',
                       "tested: 4 commits (2 BAD, 1 GOOD, 1 SKIP)",
                       "sessions spent: 8 (baselines: 5 good, 5 bad, not counted)"]
    assert out[5] == "" and out[6].split()[:3] == ["step", "commit", "verdict"]


def test_status_of_a_running_bisection_estimates_what_is_left(tmp_path):
    ctx, tree, shas = builder.git_bisection(tmp_path, steps=builder.STEPS[:2])   # c4 GOOD, c6 SKIP
    out = lines(status.status(bisection.load(str(ctx), str(tree))))
    assert out[2] == "status: running"
    assert out[3] == "tested: 2 commits (1 GOOD, 1 SKIP)"
    # c5 and c7 are untested between c4 (good) and c8 (bad): log2(3) -> 2 steps of 3 sessions,
    # 12 minutes a step as the two tested steps were apart
    assert out[5] == f"left: 2 commits between {shas[4][:12]} (good) and {shas[8][:12]} (bad)"
    assert out[6] == ("to go: about 2 steps, 6 sessions, about 24 min (2 git bisect steps x 3.0 sessions a step "
                      "so far, 12.0 min a step (build and sessions))")
    assert out[7:10] == ["candidates:", f"  {shas[5][:12]}  sys: make getppid() robust against concurrent reparenting",
                         f"  {shas[6][:12]}  init: check early state"]


def test_only_skipped_commits_left_is_inconclusive(tmp_path):
    steps = [(4, "GOOD", [100.0, 100.4]), (6, "BAD", [150.0, 151.0]), (5, "SKIP", [])]
    ctx, tree, shas = builder.git_bisection(tmp_path, steps=steps)
    report = bisection.load(str(ctx), str(tree))
    assert report.answer.status == "inconclusive"
    assert [c.sha for c in report.answer.candidates] == [shas[5], shas[6]]
    out = lines(status.status(report))
    assert out[5] == f"left: 1 commit between {shas[4][:12]} (good) and {shas[6][:12]} (bad)"
    assert out[6] == "to go: nothing to test: only skipped commits are left; confirm each candidate (bisect confirm)"


def test_status_of_a_running_engine(tmp_path):
    ctx, shas = builder.engine_bisection(tmp_path, status="running")
    out = lines(status.status(bisection.load(str(ctx))))
    post = [0.01, 0.01, 0.02, 0.06, 0.6, 0.3]
    h = -sum(p * math.log2(p) for p in post)
    rate = (math.log2(8) - h) / len(builder.ENGINE_SESSIONS)
    to_go = (h - 0.1) / rate
    assert out[2] == "status: running"
    assert out[5] == f"left: 6 commits between {shas[0][:12]} (good) and {shas[6][:12]} (bad)"
    assert out[6] == (f"to go: about {to_go:.0f} sessions, about {to_go * 4:.0f} min (posterior entropy {h:.2f} "
                      f"bits of 3.00, {rate:.3f} bits a session so far, 4.0 min a session)")
    assert out[7:10] == ["top candidates:",
                         f"  {shas[5][:12]}  p=0.6000  sys: make getppid() robust against concurrent reparenting",
                         f"  {shas[6][:12]}  p=0.3000  init: check early state"]


def test_log_is_git_bisect_log_with_evidence(git_run):
    ctx, tree, shas = git_run
    out = lines(status.log(bisection.load(str(ctx), str(tree))))
    commands = [ln for ln in out if ln.startswith("git bisect")]
    assert commands == ["git bisect start", f"git bisect good {shas[0]}", f"git bisect bad {shas[8]}",
                        f"git bisect good {shas[4]}", f"git bisect skip {shas[6]}", f"git bisect bad {shas[7]}",
                        f"git bisect bad {shas[5]}"]
    i = out.index(f"git bisect skip {shas[6]}")
    assert out[i - 2:i] == [f"# skip: [{shas[6]}] init: check early state",
                            "#   2026-12-01T20:12:00+00:00: no sessions; " + builder.reason("SKIP", [])]
    i = out.index(f"git bisect good {shas[4]}")
    assert out[i - 1].startswith("#   2026-12-01T20:00:00+00:00: 3 sessions, mean 100.2 [")
    assert out[-2:] == [f"# first bad commit: [{shas[5]}] sys: make getppid() robust against concurrent "
                        "reparenting", f"#   BAD, and its parent {shas[4][:12]} GOOD"]


def test_log_of_an_engine_lists_every_session(tmp_path):
    ctx, shas = builder.engine_bisection(tmp_path)
    out = lines(status.log(bisection.load(str(ctx))))
    sessions = [ln for ln in out if ln.startswith("# session:")]
    assert len(sessions) == len(builder.ENGINE_SESSIONS)
    assert sessions[1] == (f"# session: [{shas[6][:12]}] session 1: 150.2 ns (bisect-{shas[6][:12]}) "
                           "2026-12-01T20:04:00Z")
    assert out[-1] == "#   posterior probability 0.9990"


def test_shas_evaluate_in_a_shell(git_run):
    ctx, _, shas = git_run
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    got = subprocess.run(["bash", "-c", f'eval "$({sys.executable} -m fastpath bisect shas {ctx})"; '
                          'echo "$GOOD_SHA $BAD_SHA"'], capture_output=True, text=True, env=env, check=True)
    assert got.stdout.split() == [shas[0], shas[8]]


def test_cli_report_formats(git_run, tmp_path):
    ctx, tree, shas = git_run
    run = CliRunner().invoke(cli, ["bisect", "report", str(ctx), "--tree", str(tree)])
    assert run.exit_code == 0, run.output
    assert run.output == text.render(bisection.load(str(ctx), str(tree)))
    run = CliRunner().invoke(cli, ["bisect", "report", str(ctx), "--tree", str(tree), "--format", "json"])
    data = json.loads(run.output)
    assert data["answer"]["status"] == "found" and data["answer"]["culprit"]["sha"] == shas[5]
    assert [r["resultclass"] for r in data["classes"]] == ["fpsyscall-getppid", "fpsyscall-loop", "fpsyscall-ops2",
                                                           "fpsyscall-ops10"]
    assert [r["mark"] for r in data["classes"]] == ["R", None, None, "R"]
    assert [p["sessions"] for p in data["path"]] == [3, 0, 2, 3]
    page = tmp_path / "r.html"
    run = CliRunner().invoke(cli, ["bisect", "report", str(ctx), "--format", "html", "-o", str(page)])
    assert run.exit_code == 0 and run.output == f"wrote {page}\n"
    assert page.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("args, message", [
    (["report", "{missing}"], "cannot read"),
    (["status", "{ctx}", "--tree", "{missing}"], "no such directory"),
    (["shas", "{missing}"], "cannot read")])
def test_cli_bad_input_is_one_line(git_run, tmp_path, args, message):
    ctx, _, _ = git_run
    args = [a.format(ctx=ctx, missing=tmp_path / "nope") for a in args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    got = subprocess.run([sys.executable, "-m", "fastpath", "bisect", *args], capture_output=True, text=True, env=env)
    assert got.returncode == 1
    assert len(got.stderr.strip().splitlines()) == 1 and message in got.stderr and "Traceback" not in got.stderr


def test_status_before_the_first_step_uses_the_policy_minimum_and_the_baselines_sessions(tmp_path, monkeypatch):
    ctx, tree, shas = builder.git_bisection(tmp_path, steps=[])
    monkeypatch.setattr(text, "MAX_CANDIDATES", 3)
    out = lines(status.status(bisection.load(str(ctx), str(tree))))
    # 7 untested commits -> 3 steps of the sprt's min_sessions (2); the baselines' sessions took 2 min
    assert out[5:12] == [f"left: 7 commits between {shas[0][:12]} (good) and {shas[8][:12]} (bad)",
                         "to go: about 3 steps, 6 sessions, about 12 min (3 git bisect steps x 2.0 sessions a step "
                         "(the policy's minimum), 2.0 min a session (builds not counted))",
                         "candidates:", f"  {shas[1][:12]}  docs: fix a typo", f"  {shas[2][:12]}  mm: tidy comments",
                         f"  {shas[3][:12]}  net: rename a local",
                         "  ... and 5 more (--format json lists them all)"]


def test_a_merge_history_follows_git_bisects_rule(tmp_path):
    """good c0; a side branch a1 (the culprit), a2; the main line b1; bad = the merge of both.
    Tested: b1 GOOD, a1 BAD. `git rev-list --topo-order` lists b1 right before a1, which a rule
    by positions takes for a1's parent; git's rule (reachable from a bad commit, from no good
    one) names a1 with its real parent c0."""
    from fastpath.store import open_store

    tree = tmp_path / "linux"
    tree.mkdir()
    g = lambda *a: builder.git(tree, *a, env={"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@x",  # noqa: E731
                                             "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@x"})
    g("init", "-q", "-b", "master")
    sha = {}
    for name in ("c0", "b1"):
        g("commit", "-q", "--allow-empty", "-m", name)
        sha[name] = g("rev-parse", "HEAD")
    g("checkout", "-q", "-b", "side", sha["c0"])
    for name in ("a1", "a2"):
        g("commit", "-q", "--allow-empty", "-m", name)
        sha[name] = g("rev-parse", "HEAD")
    g("checkout", "-q", "master")
    g("merge", "-q", "--no-ff", "-m", "merge side", "side")
    sha["m"] = g("rev-parse", "HEAD")
    shas = [sha["c0"], *[""] * 7, sha["m"]]
    url = f"sqlite:///{tmp_path}/out.db"
    builder.base_store(url, shas)
    with open_store(url) as store:
        builder.add(store, "bisect-" + sha["b1"][:12], sha["b1"], 4, [100.0, 100.4], builder.T0)
        builder.add(store, "bisect-" + sha["a1"][:12], sha["a1"], 5, [150.0, 150.4], builder.T0)
    tested = [{"sha": sha[n], "swprofile": "bisect-" + sha[n][:12], "outcome": o, "sessions": 2,
               "time": "2026-12-01T20:00:00+00:00"} for n, o in (("b1", "GOOD"), ("a1", "BAD"))]
    ctx = builder.context(tmp_path, shas, url, tested)
    report = bisection.load(str(ctx), str(tree))
    assert report.answer.status == "found"
    assert report.answer.culprit.sha == sha["a1"] and report.answer.culprit.subject == "a1"
    assert report.answer.parent.sha == sha["c0"] and report.answer.parent_is_parent
    # before a1 was tested: a1, a2 and the merge are left (b1 is good)
    report = bisection.load(str(builder.context(tmp_path, shas, url, tested[:1])), str(tree))
    assert report.answer.status == "running"
    assert {c.sha for c in report.answer.candidates} == {sha["a1"], sha["a2"], sha["m"]}
    assert report.remaining.commits == 2 and report.remaining.steps == 2
