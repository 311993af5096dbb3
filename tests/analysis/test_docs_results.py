"""The `result show` examples in docs/results.md are real: run them and compare the output."""

from __future__ import annotations

import pathlib
import re
import shlex
import subprocess

import pytest

from fastpath.data import make_demo

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "results.md"


def console_examples() -> list[tuple[str, str]]:
    """(command, expected output) for every `$ fastpath result show` line in console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            if command.startswith("fastpath result show"):
                examples.append((command, output))
    return examples


EXAMPLES = console_examples()


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 7


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    where = tmp_path_factory.mktemp("docs")
    subprocess.run(["fastpath", "result", "import", "sqlite:///demo.db", str(make_demo.DEMO_CSV)],
                   cwd=where, check=True, capture_output=True)
    return where


@pytest.mark.parametrize("command, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_example_output(demo_dir, command, expected):
    done = subprocess.run(shlex.split(command), cwd=demo_dir, capture_output=True, text=True)
    assert done.stdout + done.stderr == expected
    assert (done.returncode != 0) == expected.startswith("Error:")
