"""`fastpath plan`: Run benchmark plans on a SUT."""

from __future__ import annotations

import click


@click.group(name="plan")
def group() -> None:
    """Run benchmark plans on a SUT."""


@group.command(name="exec")
@click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="results", show_default=True,
              help="Result store URL or directory (csv dir, sqlite:///f.db, mysql://, postgresql://).")
@click.option("--append", is_flag=True,
              help="Add to an existing store; complete sessions are not redone (resume).")
@click.option("--no-progress", is_flag=True, help="Do not show the progress line on stderr.")
def exec_(plan_file: str, output: str, append: bool, no_progress: bool) -> None:
    """Run every swprofile x session x benchmark of PLAN; store each sample as it comes.

    Exit status 2 when a benchmark gave no sample (not installed on the SUT, failed, or its
    kernel did not boot); --append redoes the sessions that recorded an error.

    With a pool (sut.pool: a static list or labgrid places) the SUTs are reserved and locked,
    must be identical, and run the sessions side by side; the locks are released at the end,
    on an error and on Ctrl-C.

    \b
    Example:
      fastpath plan exec --output sqlite:///results.db plan.yaml
      fastpath plan exec --output sqlite:///results.db --append plan.yaml   # resume
    """
    from fastpath.execute import run_plan
    from fastpath.plan import load_plan

    outcome = run_plan(load_plan(plan_file), output, append=append, progress=not no_progress)
    click.echo(f"{outcome.samples} samples, {outcome.errors} errors written to {outcome.store}")
    outcome.check()      # a benchmark that gave no sample fails the run (exit 2)
