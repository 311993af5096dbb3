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
              help="Table with one swprofile: min, max and the CI bounds as % difference "
                   "from the mean (refused with several: they show % changes already).")
@click.option("--changed-only", is_flag=True,
              help="With several swprofiles: only the result classes marked (R) or (I).")
@click.option("--benchmark", default="*", show_default=True, metavar="GLOB",
              help="Only benchmarks (suite/name) matching this shell glob.")
@click.option("--resultclass", default="*", show_default=True, metavar="GLOB",
              help="Only result classes matching this shell glob.")
@click.option("--sut", default=None, metavar="ID",
              help="Only this SUT's samples. Without it, samples on several SUTs (a pool) all "
                   "count, and each comparison removes the SUTs' levels (the SUT as a factor).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="csv/json: one row per result class and swprofile.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw per-session means and the 95% CI per result class to FILE.png "
                   "(says where on stderr).")
def show_cmd(store, swprofiles, relative, changed_only, benchmark, resultclass, sut, fmt, plot):
    """Summarise and compare swprofiles: mean, %stddev, sessions, 95% CI, change, p-value and
    significance, as lkp and mmtests show them.

    \b
    Statistics (the session, one boot, is the unit of replication):
      mean     mean of the per-session means
      %stddev  standard deviation of the session means / mean
      ci95     95% Student-t interval of that mean over the per-session
               means (sessions-1 df); with one session only, over that
               boot's samples (count-1 df), marked '*'
      cv       standard deviation / mean over all samples
      %change  (mean - baseline mean) / baseline mean, with its 95%
               interval (Welch's interval of the difference / baseline)
      p        Welch's t-test, two-sided, over per-session means; none
               when a side has fewer than 2 sessions
      (R)/(I)  p < 0.05; R = worse by the result class's direction
    Several SUTs (no --sut): %change, its interval and p come from the
    kernel + SUT additive model over per-session means (the change within
    SUTs, test_basis "sut"); no SUT ran both kernels: pooled, with a warning.
    Sessions that did not complete are left out; sessions that ran in one
    boot (the same boot id: a plan without a kernel) count as one boot.
    JSON/CSV rows (the same keys however many swprofiles): benchmark,
    resultclass, unit, swprofile, min, ci95min, mean, ci95max, max, cv (a
    fraction), count, baseline, change_pct, significance, sessions,
    ci_basis, boots, stddev_pct, change_ci95min, change_ci95max, p_value,
    test_basis, incomplete_sessions, incomplete_samples.

    \b
    Example:
      fastpath result show results/ --swprofile 6.1-baseline
      fastpath result show sqlite:///results.db --swprofile 6.1-baseline \\
          --swprofile 6.1-regression --benchmark 'sysbench/*' --plot cmp.png
    """
    from fastpath.analysis.show import show

    shown = show(store, swprofiles, benchmark=benchmark, resultclass=resultclass, sut=sut,
                 fmt=fmt, relative=relative, changed_only=changed_only, plot=plot)
    click.echo(shown.text, nl=False)
    if plot:
        click.echo(shown.plot_line(), err=True)


# -- result list / merge / import (store engineer) ----------------------------------------
@group.command("list")
@click.argument("store")
@click.option("--object", "kind", type=click.Choice(["sut", "swprofile", "benchmark", "error"]),
              required=True, help="What to list (error: the recorded errors, with their output).")
@click.option("--id", "pattern", default=None, metavar="GLOB",
              help="Only objects whose id matches this shell glob (errors: their swprofile).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: a list of objects, lists and numbers as such.")
def list_cmd(store, kind, pattern, fmt):
    """List the SUTs, swprofiles (with their session and sample counts), benchmarks or
    recorded errors in STORE (a directory or a URL).

    STORE is a CSV directory, csv:///dir, sqlite:///file.db,
    mysql://user:pw@host:port/db or postgresql://user:pw@host:port/db
    (four slashes for an absolute path: sqlite:////tmp/r.db).

    \b
    Example:
      fastpath result list results/ --object swprofile
      fastpath result list sqlite:///results.db --object benchmark --id 'sysbench/*'
      fastpath result list sqlite:///results.db --object error --format json
    """
    from fastpath.store.listing import format_errors, format_json, format_table, list_objects

    rows = list_objects(store, kind, pattern)
    if fmt == "json":
        click.echo(format_json(rows))
    else:
        click.echo(format_errors(rows) if kind == "error" else format_table(rows))


@group.command("merge")
@click.argument("sources", nargs=-1, required=True, metavar="SRC [SRC ...]")
@click.option("--output", required=True, metavar="DST", help="The store to merge into (created if absent).")
@click.option("--sut", "suts", multiple=True, metavar="ID", help="Only this SUT (repeatable).")
@click.option("--swprofile", "swprofiles", multiple=True, metavar="ID",
              help="Only this swprofile (repeatable).")
@click.option("--benchmark", "benchmarks", multiple=True, metavar="ID",
              help="Only this benchmark, suite/name (repeatable).")
def merge_cmd(sources, output, suts, swprofiles, benchmarks):
    """Copy samples, with their SUTs, swprofiles, benchmarks, result classes, sessions and
    error records, from SRC stores into DST. Any backend to any backend; sources are only
    read. Merging the same data twice adds nothing.

    \b
    Example:
      fastpath result merge results/ sqlite:///lab2.db --output sqlite:///all.db
      fastpath result merge mysql://ro:pw@db:3306/team --output results/ \\
          --swprofile 6.8.0-baseline --swprofile 6.9.0
    """
    from fastpath.store.merge import merge

    report = merge(sources, output, suts=suts, swprofiles=swprofiles, benchmarks=benchmarks)
    click.echo(report.summary())


@group.command("import")
@click.argument("store")
@click.argument("file", type=click.Path(dir_okay=False))
def import_cmd(store, file):
    """Import samples from FILE (CSV or JSON) into STORE, creating the SUTs, swprofiles,
    benchmarks and result classes its rows name. Samples already present are skipped; a bad
    row stops the import before anything is written, naming file:line and the column.

    \b
    CSV header (JSON: a list of objects with these keys):
      sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value
      optional extra columns: kernel_git_sha,timestamp
    improvement is 'higher' or 'lower' (which way is better).

    \b
    Example:
      fastpath result import sqlite:///results.db old-results.csv
    """
    from fastpath.store.interchange import import_file

    click.echo(import_file(store, file).summary())


@group.command("export")
@click.argument("store")
@click.option("--swprofile", "swprofiles", multiple=True, metavar="ID",
              help="Only this swprofile (repeatable; default: all).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-",
              show_default=True, metavar="FILE", help="Where to write ('-' is stdout).")
def export_cmd(store, swprofiles, fmt, output):
    """Write the raw samples of STORE in the interchange format that `result import` reads
    (with the kernel_git_sha and timestamp columns).

    A new or regular FILE is written whole or not at all (a symlink's target is written, a
    new file gets the mode the umask gives); a FIFO or character device is written as a
    stream; anything else is refused, never replaced.

    \b
    Example:
      fastpath result export sqlite:///results.db --swprofile 6.8.0-baseline -o base.csv
    """
    from fastpath.store.interchange import export_file

    count = export_file(store, output, fmt, swprofiles=list(swprofiles) or None)
    if output != "-":
        click.echo(f"exported {count} samples to {output}")
