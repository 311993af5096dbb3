"""The console examples of docs/results.md, section Stores, are real: run them in order."""

from __future__ import annotations

import pathlib
import re
import shlex
import shutil
import subprocess

import pytest

from fastpath.data import make_demo

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "results.md"


def examples() -> list[tuple[str, str]]:
    section = DOC.read_text().split("\n## Stores\n", 1)[1].split("\n## ", 1)[0]
    out = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            out.append((command, output))
    return out


@pytest.mark.slow     # some 20 commands in a row; the dev tier: tests/store (import, merge, export)
def test_store_examples_in_docs_are_real(tmp_path):
    found = examples()
    assert len(found) >= 10
    shutil.copy(make_demo.DEMO_CSV, tmp_path / "demo.csv")
    for command, expected in found:
        done = subprocess.run(shlex.split(command), cwd=tmp_path, capture_output=True, text=True)
        assert done.stdout + done.stderr == expected, command
        assert (done.returncode != 0) == expected.startswith("Error:"), command
