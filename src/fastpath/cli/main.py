"""The `fastpath` command: a root group, one error handler, the command groups.

Each group lives in its own module (cli/result.py, cli/plan.py, ...) and only parses
arguments, calls one library function and prints; a command imports the library it calls
inside its function, so `fastpath --help` and `--version` load neither numpy, scipy,
matplotlib nor SQLAlchemy. Expected failures (FastpathError) are caught here, once: one
line on stderr and the error's exit code (a UserError's parameters named as the failing
command's flags: `--tree`, where the library says 'tree'); `--debug` shows the traceback instead. A usage
error (unknown command, missing or bad option) is one line and exit 1, as any bad input
(exit 2 means the SUT failed); a standard output that cannot be written (a full disk,
`> /dev/full`) is one line and exit 1, a closed pipe (`| head`) exit 1 quietly.
"""

from __future__ import annotations

import errno
import logging
import os
import sys

import click

from fastpath import __version__
from fastpath.cli import bisect as bisect_cli
from fastpath.cli import lab as lab_cli
from fastpath.cli import plan as plan_cli
from fastpath.cli import result as result_cli
from fastpath.cli import scripts as scripts_cli
from fastpath.cli import sut as sut_cli
from fastpath.cli.common import flag_words, usage_line
from fastpath.errors import FastpathError, UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fastpath")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.option("-v", "--verbose", is_flag=True,
              help="Log every remote command with its timing, and other details.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """Find the Linux kernel commit that made a benchmark slower.

    \b
    Example:
      fastpath result show results/ --swprofile 6.8.0-baseline --swprofile 6.9.0
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)


class _Context(click.Context):
    """The context of every fastpath command: a UserError raised while its command runs is
    noted (in the root's ``obj``) with that command, innermost first, so the handler names
    the command's flags for the error's parameters."""

    def invoke(self, callback, /, *args, **kwargs):
        try:
            return super().invoke(callback, *args, **kwargs)
        except UserError as err:
            if isinstance(self.obj, dict) and self.obj.get("failed") is not err:
                self.obj.update(failed=err, command=self.command)
            raise


def _use_context(command: click.Command) -> None:
    command.context_class = _Context
    for sub in getattr(command, "commands", {}).values():
        _use_context(sub)


for group in (plan_cli.group, result_cli.group, sut_cli.group, bisect_cli.group, lab_cli.group,
              scripts_cli.command):
    cli.add_command(group)
_use_context(cli)


class _WatchedStdout:
    """sys.stdout, remembering a failed write: an OSError from it (a full disk, a closed pipe)
    is told apart from an OSError of anything else (a bug, which keeps its traceback)."""

    def __init__(self, stream):
        self._stream = stream
        self.failed: OSError | None = None

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as err:
            self.failed = err
            raise

    def flush(self):
        try:
            self._stream.flush()
        except OSError as err:
            self.failed = err
            raise

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _stdout_failed(stream, err: OSError) -> int:
    """One line for an unwritable stdout (none for a closed pipe); its file descriptor then
    points at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    if err.errno != errno.EPIPE:
        click.echo(f"Error: cannot write to standard output: {err.strerror or err}", err=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status instead of raising (for tests and `python -m`)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    real = sys.stdout
    watched = sys.stdout = _WatchedStdout(real)
    try:
        status = _run(argv, debug)
        watched.flush()
    except OSError as err:
        if watched.failed is not err:
            raise                   # not standard output's: a bug, shown with its traceback
        return _stdout_failed(real, err)
    except SystemExit as done:      # sys.exit(status) of bisect run/confirm/auto
        try:
            watched.flush()
        except OSError as err:
            _stdout_failed(real, err)
            if done.code in (0, None):
                raise SystemExit(1) from None
        raise
    finally:
        sys.stdout = real
    return status


def _run(argv: list[str] | None, debug: bool) -> int:
    noted: dict = {}                # the root context's obj: _Context notes a failed command
    try:
        cli.main(args=argv, prog_name="fastpath", standalone_mode=False, obj=noted)
    except FastpathError as err:
        if debug:
            raise
        command = noted.get("command") if noted.get("failed") is err else None
        click.echo(f"Error: {flag_words(err, command)}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as err:   # `fastpath result`: the group's help
        err.show()
        return 1
    except click.UsageError as err:
        click.echo(usage_line(err), err=True)
        return 1
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
