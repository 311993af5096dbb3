"""The `result show` and `result list` examples in docs/results.md are real: run them on the
demo dataset and compare the output (regenerate them with `python tests/analysis/test_docs_results.py`)."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import shlex

import pytest

from fastpath.cli.main import main
from fastpath.data import make_demo

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "results.md"


def console_examples() -> list[tuple[str, str]]:
    """(command, expected output) for every `$ fastpath result show` line, and every
    `$ fastpath result list sqlite:///demo.db` line, in console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            if command.startswith(RUN):
                examples.append((command, output))
    return examples


RUN = ("fastpath result show", "fastpath result list sqlite:///demo.db")
EXAMPLES = console_examples()


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 7


def run(command: str, where) -> tuple[str, int]:
    """Standard output then standard error, and the exit status, of a `fastpath ...` command
    line run in `where`: in this process, through the entry point's main() (a new interpreter
    per example cost 0.8 s of CPU each; the wheel's console script is tested in
    test_packaging.py)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(where), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(shlex.split(command)[1:])
    return out.getvalue() + err.getvalue(), status


def import_demo(where) -> None:
    output, status = run(f"fastpath result import sqlite:///demo.db {make_demo.DEMO_CSV}", where)
    assert status == 0, output


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    where = tmp_path_factory.mktemp("docs")
    import_demo(where)
    return where


# the example that draws a plot is the slowest (the dev tier plots in test_rows.py, test_show.py)
@pytest.mark.parametrize("command, expected", [
    pytest.param(c, e, id=c, marks=[pytest.mark.slow] if "--plot" in c else []) for c, e in EXAMPLES])
def test_example_output(demo_dir, command, expected):
    output, status = run(command, demo_dir)
    assert output == expected
    assert (status != 0) == expected.startswith("Error:")


def regenerate() -> None:
    """Rewrite the output under every checked example from the real command."""
    import tempfile

    with tempfile.TemporaryDirectory() as where:
        import_demo(where)

        def block(match):
            chunks = re.split(r"^\$ ", match.group(1), flags=re.M)
            out = [chunks[0]]
            for chunk in chunks[1:]:
                command, _, output = chunk.partition("\n")
                if command.startswith(RUN):
                    output, _ = run(command, where)
                out.append(f"$ {command}\n{output}")
            return "```console\n" + "".join(out) + "```"
        DOC.write_text(re.sub(r"```console\n(.*?)```", block, DOC.read_text(), flags=re.S))


if __name__ == "__main__":
    regenerate()
