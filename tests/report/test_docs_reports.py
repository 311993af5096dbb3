"""docs/reports.md shows the output of the real commands on the synthetic bisection of
tests/report/builder.py; this test runs them again and compares, block by block (the
temporary directory printed as $WORK). A renderer change shows here: paste the new output.

    PYTHONPATH=src python3 -m tests.report.test_docs_reports   # prints the blocks afresh
"""

from __future__ import annotations

import pathlib
import re
import tempfile

from click.testing import CliRunner

from fastpath.cli.main import cli
from tests.report import builder

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "reports.md"
BLOCK = re.compile(r"<!-- output: (\w+) -->\n```[a-z]*\n(.*?)```\n", re.S)


def run(tmp: pathlib.Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["bisect", *args])
    assert result.exit_code == 0, result.output
    return result.output.replace(str(tmp), "$WORK")


def generated() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as done_dir, tempfile.TemporaryDirectory() as running_dir:
        done, running = pathlib.Path(done_dir), pathlib.Path(running_dir)
        ctx, tree, _ = builder.git_bisection(done)
        ctx2, tree2, _ = builder.git_bisection(running, steps=builder.STEPS[:2])
        return {"report": run(done, "report", str(ctx), "--tree", str(tree)),
                "log": run(done, "log", str(ctx), "--tree", str(tree)),
                "status": run(running, "status", str(ctx2), "--tree", str(tree2)),
                "shas": run(done, "shas", str(ctx))}


def test_docs_show_what_the_commands_print():
    shown = dict(BLOCK.findall(DOC.read_text()))
    assert set(shown) == {"report", "log", "status", "shas"}
    for name, out in generated().items():
        assert shown[name] == out, f"docs/reports.md block '{name}' differs from the command's output now"


if __name__ == "__main__":
    for name, out in generated().items():
        print(f"<!-- output: {name} -->\n```\n{out}```\n")
