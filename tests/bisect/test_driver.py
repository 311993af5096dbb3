"""The pure bisection driver, and the same verdict code under a real `git bisect run`."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastpath.bisect import driver, judges
from fastpath.bisect.verdict import BAD, GOOD, SKIP
from fastpath.bisect.auto import skipped_candidates


def test_finds_first_bad_everywhere():
    for n in (1, 2, 3, 10, 33):
        for culprit in range(1, n + 1):
            seen = []
            res = driver.bisect(list(range(n + 1)), lambda i: seen.append(i) or (BAD if i >= culprit else GOOD))
            assert res.first_bad == culprit and res.candidates == [culprit]
            assert len(seen) <= max(1, int(np.ceil(np.log2(n + 1))))


def test_skipped_commit_is_worked_around():
    # commit 5 cannot be tested; the culprit is 7: still found.
    res = driver.bisect(list(range(11)), lambda i: SKIP if i == 5 else (BAD if i >= 7 else GOOD))
    assert res.first_bad == 7
    assert (5, SKIP) in res.tested


def test_only_skipped_left_lists_candidates():
    # culprit 6, and 5 is untestable: 5 or 6 could be the first bad commit (git says the same).
    res = driver.bisect(list(range(11)), lambda i: SKIP if i == 5 else (BAD if i >= 6 else GOOD))
    assert res.only_skipped and res.candidates == [5, 6]


def test_rejects_bad_outcome():
    with pytest.raises(ValueError, match="expected GOOD, BAD or SKIP"):
        driver.bisect([0, 1, 2], lambda i: "MAYBE")


def test_classify_takes_sessions_until_final():
    rng = np.random.default_rng(1)
    good = list(100 + rng.standard_normal(20))
    bad = list(110 + rng.standard_normal(20))
    judge = judges.prepare("sprt", good, bad, "lower")
    taken = []
    d = driver.classify(judge, [], lambda: taken.append(1) or 110 + rng.standard_normal())
    assert d.outcome == BAD and d.sessions == len(taken) >= 2
    d = driver.classify(judge, [100.0, 100.1, 99.9], lambda: pytest.fail("no more needed"))
    assert d.outcome == GOOD and d.sessions == 3


# -- a generated git repository whose commits encode a known value --------------------------
STEP = textwrap.dedent("""\
    import sys, numpy as np
    from fastpath.bisect import driver, judges
    from fastpath.bisect.verdict import exit_code
    text = open("value.txt").read().strip()
    if text == "broken":
        sys.exit(125)            # like a commit that does not build
    mean = float(text)
    rng = np.random.default_rng(int(mean * 1000) + len(sys.argv))
    base = np.random.default_rng(0)
    good, bad = list(100 + base.standard_normal(20)), list(104 + base.standard_normal(20))
    judge = judges.prepare("sprt", good, bad, "lower")
    d = driver.classify(judge, [], lambda: mean + rng.standard_normal())
    print("step", mean, d.outcome, d.sessions)
    sys.exit(exit_code(d.outcome))
    """)


def git(repo, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def make_repo(tmp_path: pathlib.Path, values: list[str]) -> list[str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for i, value in enumerate(values):
        (repo / "value.txt").write_text(value + "\n")
        git(repo, "add", "value.txt")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"commit {i}: {value}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    return shas


@pytest.mark.parametrize("culprit,broken", [(9, None), pytest.param(3, None, marks=pytest.mark.slow),
                                            (12, 11), pytest.param(6, 4, marks=pytest.mark.slow)])
def test_git_bisect_run_finds_the_culprit(tmp_path, culprit, broken):
    values = ["104" if i >= culprit else "100" for i in range(17)]
    if broken is not None:
        values[broken] = "broken"
    shas = make_repo(tmp_path, values)
    repo = tmp_path / "repo"
    script = tmp_path / "step.py"
    script.write_text(STEP)
    runner = tmp_path / "step.sh"
    runner.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    runner.chmod(0o755)
    git(repo, "bisect", "start")
    git(repo, "bisect", "good", shas[0])
    git(repo, "bisect", "bad", shas[-1])
    proc = subprocess.run(["git", "-C", str(repo), "bisect", "run", str(runner)], capture_output=True,
                          text=True)
    adjacent = broken == culprit - 1
    if adjacent:     # the culprit's parent cannot be tested: git lists both, so does the driver
        assert sorted(skipped_candidates(proc.stdout)) == sorted([shas[broken], shas[culprit]]), proc.stdout
    else:
        assert proc.returncode == 0 and f"{shas[culprit]} is the first bad commit" in proc.stdout, proc.stdout
        assert skipped_candidates(proc.stdout) == []

    # The pure driver, fed the same values, agrees.
    def test(i):
        if values[i] == "broken":
            return SKIP
        return BAD if float(values[i]) > 102 else GOOD
    res = driver.bisect(list(range(17)), test)
    assert res.candidates == ([broken, culprit] if adjacent else [culprit])


def test_confirm_boots_parent_and_culprit_alternately_and_reuses_sessions():
    rng = np.random.default_rng(2)
    good = list(100 + rng.standard_normal(20))
    bad = list(104 + rng.standard_normal(20))
    judge = judges.prepare_confirm(good, bad, "lower")
    order = []

    def take(name, mean):
        return lambda: order.append(name) or mean + 0.1 * rng.standard_normal()

    d = driver.confirm(judge, [], [], take("p", 100.0), take("c", 104.0))
    assert d.outcome == judges.CONFIRMED and d.sessions == 2
    assert order == ["p", "c", "p", "c"]
    order.clear()
    d = driver.confirm(judge, [100.0], [100.1], take("p", 100.0), take("c", 100.0))
    assert order[:3] == ["p", "c", "p"] and d.outcome == judges.REJECTED
    order.clear()
    d = driver.confirm(judge, [100.0, 100.2], [100.1], take("p", 100.0), take("c", 100.0))
    assert order[:3] == ["c", "p", "c"] and d.outcome == judges.REJECTED
    d = driver.confirm(judge, [100.0, 100.1], [104.0, 103.9], lambda: pytest.fail("no more"),
                       lambda: pytest.fail("no more"))
    assert d.outcome == judges.CONFIRMED


def test_confirm_candidates_in_order_until_one_is_confirmed():
    """git left commits 5, 6 (skipped) and 7: the step is at 6. 5 is not confirmed (no step
    from 4), 6 is; 7 is never booted."""
    rng = np.random.default_rng(4)
    good = list(100 + rng.standard_normal(20))
    bad = list(104 + rng.standard_normal(20))
    judge = judges.prepare_confirm(good, bad, "lower")
    booted = []

    def take(commit):
        booted.append(commit)
        return (104.0 if commit >= 6 else 100.0) + 0.2 * rng.standard_normal()

    recorded = {}
    named, decisions = driver.confirm_candidates(judge, [5, 6, 7], lambda c: c - 1, take, recorded)
    assert named == 6
    assert [(c, d.outcome) for c, d in decisions] == [(5, judges.REJECTED), (6, judges.CONFIRMED)]
    assert 7 not in booted and set(recorded) == {4, 5, 6}
    # 6's confirmation does not pair 5's sessions from 5's own confirmation (they are older:
    # a drifting machine would not cancel): it boots 5 and 6 afresh, alternately.
    first6 = booted.index(6)
    assert booted[first6 - 1:first6 + 3] == [5, 6, 5, 6]
    assert len(recorded[5]) == booted.count(5) and booted[:first6 - 1].count(5) >= 2
    # No candidate with a step: none confirmed.
    named, decisions = driver.confirm_candidates(judge, [2, 3], lambda c: c - 1, take)
    assert named is None and [d.outcome for _, d in decisions] == [judges.REJECTED, judges.REJECTED]


def test_pairable_keeps_the_most_recent_pairs():
    assert driver.pairable([1, 2, 3], [4, 5, 6]) == ([1, 2, 3], [4, 5, 6])
    assert driver.pairable([1, 2, 3], [4, 5]) == ([1, 2, 3], [4, 5])          # resumed after a parent boot
    assert driver.pairable([1, 2, 3, 4, 5], [6]) == ([4, 5], [6])            # older ones: another confirmation
    assert driver.pairable([1, 2], []) == ([], [])
    assert driver.pairable([1], [4, 5, 6]) == ([1], [6])
    assert driver.pairable([], [4, 5]) == ([], [])
