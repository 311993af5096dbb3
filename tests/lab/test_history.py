"""`fastpath lab history`: reproducible demo histories with a known culprit, broken and panicking commits."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from fastpath.cli.main import main
from fastpath.errors import BuildError, KernelBootError, UserError
from fastpath.lab import history, kernel, vm
from fastpath.lab.home import git

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def clone(lab_tree, tmp_path_factory):
    """A cheap clone of the lab tree (sources only, not built) for history experiments."""
    dest = tmp_path_factory.mktemp("history") / "linux"
    subprocess.run(["git", "clone", "-q", "--shared", str(lab_tree), str(dest)], check=True)
    shutil.copy(lab_tree / ".git" / kernel.INFO_FILE, dest / ".git" / kernel.INFO_FILE)
    return dest


def fresh(tree):
    git(tree, "checkout", "-q", "-f", "--detach", kernel.BASE_TAG)
    return tree


def changed_lines(tree, sha):
    diff = git(tree, "show", "--format=", "-U0", sha)
    files = re.findall(r"^\+\+\+ b/(\S+)", diff, re.M)
    lines = [ln[1:] for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    return files, lines


def test_same_seed_same_history_other_seeds_move_the_culprit(clone):
    first = history.make_history(fresh(clone), 8, seed=11)
    again = history.make_history(fresh(clone), 8, seed=11)
    assert first["commits"] == again["commits"] and len(first["commits"]) == 8
    positions = {history.make_history(fresh(clone), 8, seed=s)["culprit_index"] for s in range(1, 9)}
    assert len(positions) >= 3


def test_only_the_culprit_changes_code(clone, capsys):
    record = history.make_history(fresh(clone), 10, regression_pct=10, seed=5)
    assert git(clone, "rev-parse", "HEAD") == record["head"]
    assert git(clone, "rev-list", "--count", f"{record['base']}..HEAD") == "10"
    for sha in record["commits"]:
        files, lines = changed_lines(clone, sha)
        if sha == record["culprit"]:
            assert files == ["kernel/sys.c"]
            assert f"for (i = 0; i < {round(10 / history.PCT_PER_ITERATION)}; i++)" in "\n".join(lines)
        else:
            assert len(files) == 1
            assert files[0].startswith("Documentation/") or all(
                re.match(r"^\s*(\*|/\*|//)", ln) for ln in lines), (sha, lines)
    log = git(clone, "log", "--format=%B", f"{record['base']}..HEAD")
    assert "culprit" not in log.lower() and "fastpath" not in log.lower()
    assert main(["lab", "culprit", str(clone)]) == 0
    assert capsys.readouterr().out.startswith(record["culprit"] + " sys: ")


def test_broken_and_panic_commits_are_followed_by_their_fix(clone):
    record = history.make_history(fresh(clone), 9, seed=2, culprit_at=7, broken_build_at=2, panic_at=4)
    commits = record["commits"]
    assert record["culprit"] == commits[6]
    assert record["broken_build"] == [commits[1]] and record["panic"] == [commits[3]]
    assert "eror_code" in git(clone, "show", commits[1]) and "eror_code" in git(clone, "show", commits[2])
    assert "eror_code" not in (clone / "kernel/exit.c").read_text()
    assert history.PANIC_LINE.strip() in git(clone, "show", f"{commits[3]}:init/main.c")
    assert history.PANIC_LINE.strip() not in git(clone, "show", f"{commits[4]}:init/main.c")


@pytest.mark.parametrize("args, message", [
    (dict(broken_build_at=6), "'broken_build_at' 6: must be between 1 and 5"),
    (dict(broken_build_at=2, panic_at=3), "'panic_at' 3: overlaps"),
    (dict(culprit_at=3, panic_at=3), "'culprit_at' 3: must be in 1..6"),
])
def test_bad_positions_are_refused(clone, args, message):
    with pytest.raises(UserError, match=re.escape(message)):
        history.make_history(fresh(clone), 6, **args)


def test_broken_commit_fails_to_build_and_panic_commit_fails_to_boot(lab_tree, lab_kernel, tmp_path, capsys):
    record = history.make_history(fresh(lab_tree), 5, seed=3, culprit_at=5, broken_build_at=1, panic_at=3)
    try:
        git(lab_tree, "checkout", "-q", record["broken_build"][0])
        assert main(["lab", "build", str(lab_tree), "-o", str(tmp_path / "broken")]) == BuildError.exit_code
        err = capsys.readouterr().err
        assert "kernel build failed" in err and "eror_code" in err and len(err.strip().splitlines()) == 1
        git(lab_tree, "checkout", "-q", record["panic"][0])
        panicking = kernel.build(lab_tree, output=tmp_path / "panic")
        with pytest.raises(KernelBootError, match="Kernel panic - not syncing: fastpath lab: boot failure"):
            vm.up(panicking.image, home=tmp_path / "home", timeout=120)
        assert vm.status(tmp_path / "home")["running"] is False
    finally:
        fresh(lab_tree)
