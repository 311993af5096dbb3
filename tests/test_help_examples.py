"""Every `--help` example works: each `fastpath ...` line of every command's example parses
against that command's own options, names valid store URLs (a bare path is a CSV directory,
so it must not look like a file), and the examples that need only local stores and files run
for real here, against stores made with the names the examples use. Scripts are run by an
absolute path in the help and in the docs (in a kernel tree ./scripts is the kernel's)."""

from __future__ import annotations

import pathlib
import re
import shlex
import subprocess
import sys

import click
import pytest

from fastpath.cli.main import cli, main
from fastpath.store.url import parse as parse_url
from tests.test_docs import COMMANDS, ROOT

SEPARATORS = {"&&", "||", ";", "|", "(", ")", "&"}
REDIRECTS = {">", ">>", "<", "2>"}
# The parameters of each command that take a result store.
STORE_PARAMS = {
    "plan exec": ("output",), "result list": ("store",), "result show": ("store",),
    "result merge": ("sources", "output"), "result import": ("store",), "result export": ("store",),
    "bisect start": ("resultstore", "output_resultstore"),
}
RUNNABLE = {"result list", "result show", "result merge", "result import", "result export", "scripts"}
FILE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".csv", ".json", ".yaml")
SCRIPTS = ("build_local_kernel.sh", "execute_bisection.sh")


def example_lines(command: click.Command) -> list[str]:
    """The logical lines (backslash continuations joined) of the help's Example block."""
    help_text = command.help or ""
    block = help_text[help_text.index("Example"):].split("\n")[1:]
    return join_continuations(block)


def join_continuations(lines: list[str]) -> list[str]:
    out, pending = [], ""
    for line in lines:
        line = line.strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if pending + line:
            out.append(pending + line)
        pending = ""
    return out


def segments(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at && ; | and parentheses, redirections
    dropped), plus the commands inside $(...) of quoted words."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:                  # prose or output with an apostrophe: words as they are
        tokens = line.split()
    out, current = [], []
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token in REDIRECTS:
            skip = True
        elif token in SEPARATORS:
            out.append(current)
            current = []
        else:
            current.append(token)
            out += [shlex.split(inner) for inner in re.findall(r"\$\(([^)]*)\)", token)]
    out.append(current)
    return [s for s in out if s]


def fastpath_commands(line: str) -> list[list[str]]:
    return [s[1:] for s in segments(line) if s[0] == "fastpath"]


def resolve(args: list[str]) -> tuple[str, click.Command, list[str]]:
    command, path = cli, []
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        command = command.commands[args[0]]
        path.append(args.pop(0))
    return " ".join(path), command, args


def all_examples():
    for path, command in COMMANDS:
        for line in example_lines(command):
            for args in fastpath_commands(line):
                if "..." not in args:       # `fastpath bisect start ...`: elided on purpose
                    yield " ".join(path), args


EXAMPLES = list(all_examples())


def test_every_command_has_a_fastpath_example_line():
    with_line = {name for name, _ in EXAMPLES}
    assert with_line >= {" ".join(p) for p, _ in COMMANDS}, set(" ".join(p) for p, _ in COMMANDS) - with_line


@pytest.fixture
def lax_paths(monkeypatch):
    """Parse without checking that the example's files exist (~ is not expanded here)."""
    for _, command in COMMANDS:
        for param in command.params:
            if isinstance(param.type, click.Path):
                monkeypatch.setattr(param.type, "exists", False)


def parsed(args: list[str]) -> tuple[str, dict]:
    name, command, rest = resolve(list(args))
    assert not isinstance(command, click.Group), f"`fastpath {' '.join(args)}`: not a command"
    try:
        with command.make_context(f"fastpath {name}", rest) as ctx:
            return name, dict(ctx.params)
    except click.UsageError as err:
        pytest.fail(f"`fastpath {' '.join(args)}`: {err.format_message()}")


def store_values(name: str, params: dict) -> list[str]:
    values = []
    for key in STORE_PARAMS.get(name, ()):
        value = params.get(key)
        values += list(value) if isinstance(value, (list, tuple)) else [value]
    return [v for v in values if v]


@pytest.mark.parametrize("name, args", EXAMPLES, ids=[" ".join(a) for _, a in EXAMPLES])
def test_help_example_parses_and_names_valid_stores(lax_paths, name, args):
    command_name, params = parsed(args)
    for value in store_values(command_name, params):
        url = parse_url(value)                    # raises UserError naming what is wrong
        if url.scheme == "csv" and "://" not in value:
            assert not value.rstrip("/").endswith(FILE_SUFFIXES), \
                f"`fastpath {' '.join(args)}`: {value!r} is a CSV directory; a file needs sqlite:///{value}"


def test_store_parameters_are_all_known():
    for path, command in COMMANDS:
        for param in command.params:
            if "store" in (param.name or "") or (
                    param.name == "output" and path[0] in ("plan", "result") and path != ("result", "export")):
                assert param.name in STORE_PARAMS.get(" ".join(path), ()), (path, param.name)


# -- the examples that can run here --------------------------------------------------------
SWPROFILES = ("6.1-baseline", "6.1-regression", "6.8.0-baseline", "6.9.0")
HEADER = "sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value"


def _rows():
    for i, swp in enumerate(SWPROFILES):
        for session in range(2):
            for repeat in range(3):
                value = 1000 - 50 * (i % 2) + 3 * session + repeat
                yield f"lab,{swp},sysbench/thread,sysbenchthread-110,events/s,higher,{session},{repeat},{value}"


@pytest.fixture
def example_dir(tmp_path, monkeypatch):
    """A working directory holding the stores and files the examples name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old-results.csv").write_text("\n".join([HEADER, *_rows()]) + "\n")
    for store in ("results/", "sqlite:///results.db", "sqlite:///lab2.db"):
        assert main(["result", "import", store, "old-results.csv"]) == 0
    return tmp_path


def local(value: str) -> bool:
    return parse_url(value).scheme in ("csv", "sqlite")


RUN = [(n, a) for n, a in EXAMPLES if n in RUNNABLE]


@pytest.mark.parametrize("name, args", RUN, ids=[" ".join(a) for _, a in RUN])
def test_help_example_runs(request, capsys, name, args):
    command_name, params = parsed(args)
    stores = store_values(command_name, params)
    if not all(local(s) for s in stores):
        pytest.skip(f"needs a database server named in the example: {stores}")
    request.getfixturevalue("example_dir")
    status = main(list(args))
    err = capsys.readouterr().err
    assert status == 0, f"`fastpath {' '.join(args)}` exited {status}: {err}"


# -- scripts by absolute path ----------------------------------------------------------------
def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)


def script_words(lines: list[str]):
    for line in lines:
        for segment in segments(line.split(" #")[0]):
            for word in segment:
                if word.endswith(SCRIPTS) and not word.startswith("#"):
                    yield line, word


def bad_script_path(word: str) -> bool:
    """./scripts/x.sh or scripts/x.sh: in a kernel tree that is the kernel's own folder."""
    return not (word.startswith(("/", "$(fastpath scripts)", "$FP_SCRIPTS", "~")) or word in SCRIPTS)


def test_help_examples_run_scripts_by_absolute_path():
    for path, command in COMMANDS:
        for line, word in script_words(example_lines(command)):
            assert not bad_script_path(word), f"`fastpath {' '.join(path)} --help`: {line}"


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_docs_run_scripts_by_absolute_path(doc):
    path = ROOT / doc if doc == "README.md" else ROOT / "docs" / doc
    for block in code_blocks(path.read_text()):
        lines = [line for line in join_continuations(block.split("\n")) if not line.startswith(("$ ", "running"))]
        for line, word in script_words(lines):
            assert not bad_script_path(word), f"{doc}: {line}"


def test_confirm_example_gives_the_modules():
    text = " ".join(example_lines(dict((" ".join(p), c) for p, c in COMMANDS)["bisect confirm"]))
    for flag in ("--modules", "--parent-modules"):
        assert flag in text


def test_the_checks_catch_what_they_are_for():
    assert bad_script_path("./scripts/build_local_kernel.sh") and not bad_script_path(
        "$FP_SCRIPTS/build_local_kernel.sh")
    assert fastpath_commands('"$(fastpath scripts)/x.sh" && fastpath result list r/ --object sut > o') == [
        ["scripts"], ["result", "list", "r/", "--object", "sut"]]


# -- the confirmation recipe, typed into a kernel tree ----------------------------------------
# A tree shaped like a kernel's (Makefile, Kconfig, its own scripts/ folder), whose Makefile
# stands in for the kernel build: the image holds the commit's SHA. The recipe runs in bash,
# with the real build_local_kernel.sh; `fastpath bisect confirm` itself (which needs a SUT)
# only records its arguments, which must then parse and name the right files.
KERNEL_MAKEFILE = """\
IMAGE := $(if $(filter arm64,$(ARCH)),arch/arm64/boot/Image.gz,arch/x86/boot/bzImage)
olddefconfig:
\t@true
bzImage Image.gz:
\tmkdir -p $(dir $(IMAGE)) && git rev-parse HEAD > $(IMAGE)
modules:
\t@true
modules_install:
\tmkdir -p $(INSTALL_MOD_PATH)/lib/modules/x && git rev-parse HEAD > $(INSTALL_MOD_PATH)/lib/modules/x/sha
"""


def git(tree, *args) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def kernel_tree(tmp_path):
    tree = tmp_path / "linux"
    (tree / "scripts").mkdir(parents=True)
    (tree / "scripts" / "Makefile.build").write_text("# the kernel's own scripts/ folder\n")
    (tree / "Makefile").write_text(KERNEL_MAKEFILE)
    (tree / "Kconfig").write_text("# Kconfig\n")
    (tree / ".config").write_text("CONFIG_X=y\n")
    git(tree, "init", "-q")
    for n in (1, 2):
        (tree / "file").write_text(f"{n}\n")
        git(tree, "add", "-A")
        git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", f"c{n}")
    return tree


def type_recipe(lines: list[str], tree, tmp_path) -> list[str]:
    """Run the recipe's lines in bash in the tree; the arguments `fastpath bisect confirm` got."""
    out = tmp_path / "out"
    out.mkdir()
    args_file = tmp_path / "confirm-args"
    script = "\n".join([
        "set -e",
        f'fastpath() {{ if [ "$1" = scripts ]; then "{sys.executable}" -m fastpath scripts; '
        f'else printf "%s\\n" "$@" > "{args_file}"; fi; }}',
        f"CULPRIT={git(tree, 'rev-parse', 'HEAD')}",
        *[line.replace("/tmp/", f"{out}/") for line in lines], ""])
    proc = subprocess.run(["bash", "-c", script], cwd=tree, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the recipe failed ({proc.returncode}): {proc.stderr}\n{script}"
    return args_file.read_text().splitlines()


def check_confirm_args(args: list[str], tree) -> None:
    assert args[:2] == ["bisect", "confirm"], args
    _, params = parsed(list(args))
    culprit, parent = git(tree, "rev-parse", "HEAD"), git(tree, "rev-parse", "HEAD^")
    assert (params["gitsha"], params["parent_gitsha"]) == (culprit, parent)
    for key, sha in (("kernel", culprit), ("modules", None), ("parent_kernel", parent), ("parent_modules", None)):
        assert params[key] and pathlib.Path(params[key]).is_file(), (key, params[key])
        if sha:
            assert pathlib.Path(params[key]).read_text().strip() == sha, key
    assert params["modules"] != params["parent_modules"]


def test_confirm_recipe_in_the_help_can_be_typed(kernel_tree, tmp_path, monkeypatch):
    lines = example_lines(dict((" ".join(p), c) for p, c in COMMANDS)["bisect confirm"])
    monkeypatch.chdir(kernel_tree)
    check_confirm_args(type_recipe(lines, kernel_tree, tmp_path), kernel_tree)


def test_confirm_recipe_in_the_docs_can_be_typed(kernel_tree, tmp_path, monkeypatch):
    doc = (ROOT / "docs" / "bisection.md").read_text()
    block, = [b for b in code_blocks(doc) if "fastpath bisect confirm --context" in b]
    monkeypatch.chdir(kernel_tree)
    check_confirm_args(type_recipe(join_continuations(block.split("\n")), kernel_tree, tmp_path), kernel_tree)
