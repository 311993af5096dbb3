"""The `fastpath` command: a root group, one error handler, the command groups.

Each group lives in its own module (cli/result.py, cli/plan.py, ...) and only parses
arguments, calls one library function and prints. Expected failures (FastpathError) are
caught here, once: one line on stderr and the error's exit code; `--debug` shows the
traceback instead.
"""

from __future__ import annotations

import logging
import sys

import click

from fastpath import __version__
from fastpath.cli import bisect as bisect_cli
from fastpath.cli import lab as lab_cli
from fastpath.cli import plan as plan_cli
from fastpath.cli import result as result_cli
from fastpath.cli import sut as sut_cli
from fastpath.errors import FastpathError


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


for group in (plan_cli.group, result_cli.group, sut_cli.group, bisect_cli.group, lab_cli.group):
    cli.add_command(group)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status instead of raising (for tests and `python -m`)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="fastpath", standalone_mode=False)
    except FastpathError as err:
        if debug:
            raise
        click.echo(f"Error: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
