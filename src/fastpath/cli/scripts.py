"""`fastpath scripts`: where the installed shell scripts are."""

from __future__ import annotations

import click


@click.command(name="scripts")
def command() -> None:
    """Print the directory of execute_bisection.sh and build_local_kernel.sh.

    They are installed with fastpath, so a bisection needs no checkout; in a checkout,
    scripts/ links to the same files.

    \b
    Example:
      cd /path/to/linux
      git bisect run "$(fastpath scripts)/execute_bisection.sh" /path/to/bisection_context.yaml
    """
    from fastpath.scripts import directory

    click.echo(str(directory()))
