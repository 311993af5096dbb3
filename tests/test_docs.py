"""Docs are tested: every command has help ending in an example and is documented."""

from __future__ import annotations

import pathlib

import click
import pytest
from click.testing import CliRunner

from fastpath.cli.main import cli, main

ROOT = pathlib.Path(__file__).resolve().parent.parent


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = prefix + (name,)
        if isinstance(command, click.Group):
            yield from leaf_commands(command, path)
        else:
            yield path, command


COMMANDS = list(leaf_commands(cli))
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_root_lists_every_group():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for group in ("plan", "result", "sut", "bisect", "lab"):
        assert f"  {group} " in result.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p))
def test_command_help_has_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`fastpath {' '.join(path)} --help` shows no example"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p))
def test_command_is_documented(path):
    assert f"fastpath {' '.join(path)}" in DOCS, f"`fastpath {' '.join(path)}` is in no doc"


def test_unknown_command_is_one_line_and_nonzero(capsys):
    status = main(["no-such-group"])
    assert status == 1
    err = capsys.readouterr().err
    assert "No such command" in err and "Traceback" not in err
