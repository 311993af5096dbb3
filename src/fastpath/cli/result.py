"""`fastpath result`: List, show, merge and import results in a result store."""

from __future__ import annotations

import click


@click.group(name="result")
def group() -> None:
    """List, show, merge and import results in a result store."""


# -- result show (analysis engineer) ------------------------------------------------------
@group.command("show")
@click.argument("store")
@click.option("--swprofile", "swprofiles", multiple=True, required=True, metavar="ID",
              help="A swprofile to show; repeat to compare. The first is the baseline.")
@click.option("--relative", is_flag=True,
              help="Table: min, max and the CI bounds as % difference from the mean.")
@click.option("--benchmark", default="*", show_default=True, metavar="GLOB",
              help="Only benchmarks (suite/name) matching this shell glob.")
@click.option("--resultclass", default="*", show_default=True, metavar="GLOB",
              help="Only result classes matching this shell glob.")
@click.option("--sut", default=None, metavar="ID",
              help="The SUT, needed only when the swprofiles have samples on several SUTs.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="csv/json: one row per result class and swprofile.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw per-session means and the 95% CI per result class to FILE.png.")
def show_cmd(store, swprofiles, relative, benchmark, resultclass, sut, fmt, plot):
    """Summarise and compare swprofiles: mean, 95% CI, cv, change and significance.

    \b
    Statistics (the session, one boot, is the unit of replication):
      mean     mean of the per-session means
      ci95     95% Student-t interval of that mean over the per-session
               means (sessions-1 df); with one session only, over that
               boot's samples (count-1 df), marked '*'
      cv       standard deviation / mean over all samples
      change   (mean - baseline mean) / baseline mean, in %
      (R)/(I)  Welch's t-test, two-sided, p < 0.05, over per-session means
               (over all samples, marked '+', when a side has one session);
               R = worse by the result class's direction, I = better
    JSON/CSV rows: benchmark, resultclass, unit, swprofile, min, ci95min,
    mean, ci95max, max, cv (a fraction), count; with several swprofiles also
    baseline, change_pct, significance; then sessions, ci_basis.

    \b
    Example:
      fastpath result show results/ --swprofile 6.1-baseline
      fastpath result show sqlite:///results.db --swprofile 6.1-baseline \\
          --swprofile 6.1-regression --benchmark 'sysbench/*' --plot cmp.png
    """
    from fastpath.analysis.show import show

    click.echo(show(store, swprofiles, benchmark=benchmark, resultclass=resultclass, sut=sut,
                    fmt=fmt, relative=relative, plot=plot), nl=False)
