"""The test tiers: markers set from the fixtures a test uses (tests/conftest.py), and CI runs
the README's test command."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def collected(marker: str, *paths: str) -> list[str]:
    select = ["-m", marker] if marker else []
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           *select, *paths], capture_output=True, text=True, cwd=ROOT, timeout=300)
    return [line for line in proc.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_markers_follow_the_fixtures():
    files = ("tests/bisect/test_start.py", "tests/store/test_import.py", "tests/test_packaging.py")
    marked = collected("ssh or db or slow", *files)
    everything = collected("", *files)
    start = [t for t in everything if t.startswith(files[0])]
    assert start and set(start) <= set(marked)               # every start test uses the sshd
    imports = [t for t in marked if t.startswith(files[1])]
    assert imports and all(("[mysql" in t or "[postgresql" in t) for t in imports), imports  # not csv/sqlite
    assert [t for t in marked if t.startswith(files[2])] == [
        "tests/test_packaging.py::test_wheel_installs_the_scripts_and_fastpath_scripts_finds_them"]


def selections(text: str) -> set[tuple[str, bool]]:
    """(-m expression, parallel?) of each pytest invocation in text."""
    out = set()
    for line in re.findall(r"python3 -m pytest[^\n&|]*", text):
        marker = re.search(r"-m ['\"]([^'\"]+)['\"]|-m (\w+)", line.replace("python3 -m pytest", ""))
        out.add(((marker.group(1) or marker.group(2)) if marker else "", "-n auto" in line))
    return out


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("**Run the tests**"):]
    block = block[:block.index("```", block.index("```") + 3)]
    assert selections(block) == {("not lab", True), ("lab", False)}
    assert selections((ROOT / ".ci" / "run").read_text()) == selections(block)
