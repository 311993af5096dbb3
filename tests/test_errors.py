"""Library errors speak the library's words, the CLI its flags (errors.UserError's params).

The same error raised through the API names the parameter (``'relative'``), through the
CLI the command's flag (``--relative``); and no library module writes a flag into a
UserError's message (the guard below greps them)."""

from __future__ import annotations

import ast
import pathlib
import pickle
import re
import sys

import click
import pytest

from fastpath.cli.common import flag_words
from fastpath.cli.main import main
from fastpath.errors import PlanError, UserError

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastpath"


def test_placeholders_read_as_the_parameter_in_the_library():
    err = UserError("{tree} /x: not a git work tree (or give {tree})", params=("tree",))
    assert str(err) == "'tree' /x: not a git work tree (or give 'tree')"
    assert err.render(lambda name: f"--{name}") == "--tree /x: not a git work tree (or give --tree)"
    assert err.args == ("{tree} /x: not a git work tree (or give {tree})",)


def test_without_params_nothing_is_replaced():
    err = UserError("a {tree} that is no placeholder")
    assert str(err) == "a {tree} that is no placeholder"
    assert err.render(lambda name: "--x") == str(err)


def test_the_error_pickles_with_its_params():
    err = UserError("{suts} must be at least 1, got 0", params=("suts",))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is UserError and back.params == ("suts",)
    assert str(back) == "'suts' must be at least 1, got 0"
    plan = pickle.loads(pickle.dumps(PlanError("{plan} is empty", file="p.yaml", params=("plan",))))
    assert str(plan) == "p.yaml: 'plan' is empty" and plan.file == "p.yaml"


def test_the_cli_names_the_commands_flag_an_argument_by_its_metavar_else_the_library_word():
    @click.command()
    @click.argument("directory", metavar="DIR")
    @click.option("-o", "--output", "out")
    def cmd(directory, out):
        pass

    err = UserError("{directory}, {out} and {count}", params=("directory", "out", "count"))
    assert flag_words(err, cmd) == "DIR, --output and 'count'"
    assert flag_words(err, None) == str(err)


def test_the_same_error_through_the_api_and_through_the_cli(tmp_path, capsys):
    from fastpath.analysis.show import show

    url = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(UserError) as raised:
        show(url, ["a", "b"], relative=True)
    assert str(raised.value).startswith("'relative' applies to one 'swprofiles': ")
    assert "--" not in str(raised.value)

    code = main(["result", "show", url, "--swprofile", "a", "--swprofile", "b", "--relative"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"Error: {flag_words(raised.value, _command('result', 'show'))}\n"
    assert err.startswith("Error: --relative applies to one --swprofile: ")


def test_bisect_run_speaks_the_library_words():
    """(Through the CLI, tests/bisect/test_run.py sees ``--kernel /no/such/bzImage``.)"""
    from fastpath.bisect.run import classify

    with pytest.raises(UserError, match=r"^'kernel' /no/such/bzImage: no such file$"):
        classify(None, "/no/such/bzImage", None, "abc")


def _command(*path: str) -> click.Command:
    from fastpath.cli.main import cli

    command = cli
    for name in path:
        command = command.commands[name]
    return command


# --- the guard: no flag in a library UserError's message -------------------------------------

FLAG = re.compile(r"(?<![\w-])--[a-z]")
ALLOWED: set[tuple[str, int]] = set()      # (path under src/fastpath, line): none today


def _user_error_classes(trees) -> set[str]:
    """UserError and the classes derived from it in the sources, by name."""
    names, grown = {"UserError"}, True
    while grown:
        grown = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        getattr(b, "id", getattr(b, "attr", None)) in names for b in node.bases):
                    names.add(node.name)
                    grown = True
    return names


def library_flag_messages() -> list[str]:
    files = [f for f in sorted(SRC.rglob("*.py")) if "cli" not in f.relative_to(SRC).parts]
    trees = {f: ast.parse(f.read_text(), str(f)) for f in files}
    classes = _user_error_classes(trees.values())
    found = []
    for f, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) in classes):
                continue
            texts = [c.value for a in (*node.args, *(k.value for k in node.keywords)) for c in ast.walk(a)
                     if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            where = (str(f.relative_to(SRC)), node.lineno)
            if any(FLAG.search(t) for t in texts) and where not in ALLOWED:
                found.append(f"{where[0]}:{where[1]}: {' '.join(texts)[:100]}")
    return found


def test_no_library_user_error_names_a_flag():
    """Name the parameter as a placeholder instead: UserError("{tree} ...", params=("tree",))."""
    assert library_flag_messages() == []


def test_the_guard_sees_a_flag(tmp_path, monkeypatch):
    bad = tmp_path / "fastpath"
    (bad / "cli").mkdir(parents=True)
    (bad / "errors.py").write_text("class UserError(Exception): pass\nclass PlanError(UserError): pass\n")
    (bad / "mod.py").write_text('from x import PlanError\nclass E(PlanError): pass\n'
                                'def f(t):\n    raise E(f"--tree {t}: no such directory")\n')
    (bad / "cli" / "ok.py").write_text('raise UserError("--tree: fine in the CLI")\n')
    monkeypatch.setattr(sys.modules[__name__], "SRC", bad)
    assert [m.split(":")[0] for m in library_flag_messages()] == ["mod.py"]
