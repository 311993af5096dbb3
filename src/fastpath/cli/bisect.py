"""`fastpath bisect`: Bisect a kernel regression with git bisect."""

from __future__ import annotations

import sys

import click

from fastpath.bisect.params import DEFAULT_POLICY, POLICIES, params_for, parse_overrides
from fastpath.cli.common import usage_line, verdict_line


@click.group(name="bisect")
def group() -> None:
    """Bisect a kernel regression with git bisect."""


@group.command("start")
@click.option("--host", default=None, help="SUT host name, address or ~/.ssh/config alias (or --sut-file).")
@click.option("--user", default=None, help="SSH user on the SUT.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="SSH port.")
@click.option("--keyfile", type=click.Path(dir_okay=False), default=None, help="SSH private key.")
@click.option("--known-hosts", type=click.Path(dir_okay=False), default=None,
              help="known_hosts file that pins the SUT's host key.")
@click.option("--power-cycle", default=None,
              help="Local command that power-cycles the SUT (recovery from a kernel that does not boot).")
@click.option("--boot-timeout", type=click.FloatRange(1), default=None,
              help="Seconds to wait for a tested kernel to answer SSH (default 300).")
@click.option("--kernel-config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Kernel config for scripts/build_local_kernel.sh (default: the tree's own).")
@click.option("--sut-file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Instead of --host and the other connection flags: a YAML file holding a plan's "
                   "sut block (sut: ...), one SUT or a pool of them, as `lab up --count K` writes "
                   "<lab home>/pool.yaml (docs/pool.md).")
@click.option("--sut", default=None,
              help="SUT name in the result store (required with --host; with --sut-file its sut.name "
                   "by default).")
@click.option("--good-swprofile", required=True, help="Swprofile without the regression.")
@click.option("--bad-swprofile", required=True, help="Swprofile with the regression.")
@click.option("--benchmark", required=True, help="Benchmark id, suite/name.")
@click.option("--resultclass", required=True, help="Result class that regressed.")
@click.option("--resultstore", required=True, help="Store holding both baselines (never written).")
@click.option("--context", required=True, type=click.Path(dir_okay=False), help="Context file to write.")
@click.option("--output-resultstore", default=None, metavar="STORE",
              help="Store for the baseline copies and the bisection's results (new or empty; "
                   "default: a new SQLite file in a temporary directory).")
@click.option("--force", is_flag=True,
              help="Overwrite a context that records tested commits, create its directory, "
                   "add to a non-empty --output-resultstore.")
@click.option("--policy", type=click.Choice(POLICIES), default=DEFAULT_POLICY, show_default=True,
              help="Verdict policy (docs/bisection.md).")
@click.option("--policy-param", "policy_param", multiple=True, metavar="KEY=VALUE",
              help="Set one of the policy's parameters (repeatable), e.g. alpha=0.01; recorded in the context.")
def start_cmd(host, user, port, keyfile, known_hosts, power_cycle, sut_file, boot_timeout, kernel_config,
              sut, good_swprofile, bad_swprofile,
              benchmark, resultclass, resultstore, context, output_resultstore, force, policy, policy_param):
    """Check the baselines and write a bisection context.

    Validates that both swprofiles have results for the benchmark and result class on the
    SUT, differ only in kernel_git_sha, that the SUT is single-node and is the machine the
    baselines were recorded on (its fingerprint), and that bad is worse than good (refused
    when bad is significantly better, or its mean is not worse); copies the baselines into
    the output store (a temporary one unless --output-resultstore; the original is only
    read) and writes the context file that `bisect auto` and `bisect run` read. A context
    that records tested commits is not overwritten, nor a missing directory created,
    without --force.

    When bad is worse but the baselines are too few or too noisy to tell the ends apart
    (Welch p >= 0.05, or the policy cannot), the context is written anyway, records that,
    and one warning line says what follows: `bisect auto` (the engine) measures the ends
    itself, up to its end_budget end sessions; the per-commit flow (`bisect run`, `bisect
    auto --engine git`) refuses the context until more baseline sessions tell them apart
    (the policy says how many).

    \b
    Example:
      fastpath bisect start --host test-server --user root --keyfile ~/.ssh/id_rsa \\
        --sut "Ampere Altra Max" --good-swprofile 6.8.0-baseline \\
        --bad-swprofile 6.9.0-regression --benchmark sysbench/thread \\
        --resultclass sysbenchthread-110 --resultstore sqlite:///results.db \\
        --context ./bisection_context.yaml

    \b
    With a pool of identical SUTs (then `bisect auto --suts K`; every SUT of it
    is fingerprinted now and must be the baselines' machine):
      fastpath bisect start --sut-file ~/.cache/fastpath/lab/pool.yaml \\
        --sut fastpath-lab --good-swprofile demo-good --bad-swprofile demo-bad \\
        --benchmark fp/syscall --resultclass fpsyscall-getppid \\
        --resultstore sqlite:///baselines.db --context ./bisection_context.yaml
    """
    from fastpath.bisect.start import StartOptions, start
    from fastpath.errors import UserError

    try:                # the parameters' errors in the flag's words
        policy_params = parse_overrides(policy, policy_param)
        params_for(policy, policy_params)
    except UserError as err:
        raise UserError(f"--policy-param: {err}") from None
    ctx = start(StartOptions(
        host=host, user=user, port=port, keyfile=keyfile, known_hosts=known_hosts,
        power_cycle=power_cycle, sut_file=sut_file, boot_timeout=boot_timeout, kernel_config=kernel_config, sut=sut,
        good_swprofile=good_swprofile, bad_swprofile=bad_swprofile, benchmark=benchmark,
        resultclass=resultclass, resultstore=resultstore, context=context, policy=policy,
        policy_params=policy_params, output_resultstore=output_resultstore,
        force=force))
    click.echo(f"context: {context}\ngood: {ctx.good_swprofile} {ctx.good_sha}\n"
               f"bad: {ctx.bad_swprofile} {ctx.bad_sha}\npolicy: {ctx.policy['name']}\n"
               f"output-resultstore: {ctx.output_resultstore}")
    if ctx.ends_not_apart:
        from fastpath.bisect.baselines import not_apart_warning
        from fastpath.bisect.engine import EngineParams

        click.echo(not_apart_warning(ctx.ends_not_apart, EngineParams().end_budget), err=True)


class _GitBisectCommand(click.Command):
    """`bisect run` must exit only with 0, 1, 125 or 128: git bisect reads any other status
    from 1 to 127 as BAD. A usage error (missing flag) or an unexpected failure -> 128."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.Exit:
            raise
        except click.ClickException as err:
            if isinstance(err, click.UsageError) and err.ctx is None:
                err.ctx = ctx
            click.echo(usage_line(err), err=True)
            sys.exit(128)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except BaseException as err:      # noqa: BLE001 - the contract is one line and 128
            if isinstance(err, SystemExit):
                raise
            click.echo(f"Error: unexpected {type(err).__name__}: {err}", err=True)
            sys.exit(128)


@group.command("run", cls=_GitBisectCommand)
@click.option("--context", required=True, type=click.Path(dir_okay=False), help="Context from `bisect start`.")
@click.option("--kernel", required=True, type=click.Path(dir_okay=False), help="Kernel image of the commit.")
@click.option("--modules", default=None, type=click.Path(dir_okay=False), help="Modules tarball (.tar.xz).")
@click.option("--gitsha", required=True, help="The commit's SHA (names the swprofile bisect-<sha12>).")
def run_cmd(context, kernel, modules, gitsha):
    """Test one commit on the SUT and classify it: exit 0 GOOD, 1 BAD, 125 SKIP, 128 ERROR.

    Runs the benchmark as swprofile bisect-<first 12 chars of the SHA>, one session at a time
    while the context's policy is undecided; samples go to the context's output store. A
    SHA tested before reuses its sessions. A kernel that does not boot gives 125 (skip) after
    the SUT is recovered; an unreachable SUT or unwritable store gives 128 (git bisect stops).

    \b
    Example (in the kernel tree; its own ./scripts is not fastpath's):
      "$(fastpath scripts)/build_local_kernel.sh" && source ./scripts/.env
      fastpath bisect run --context bisection_context.yaml --kernel $KERNEL_PATH \\
        --modules $MODULES_PATH --gitsha $GITSHA
    """
    from fastpath.bisect.run import run

    result = run(context, kernel, modules or None, gitsha)
    click.echo(verdict_line(result), err=result.outcome == "ERROR")
    if result.decision is not None and result.decision.reason:
        click.echo(f"  {result.decision.reason}")
    sys.stdout.flush()
    # sys.exit, not click's Exit: the status must reach git bisect whatever wraps the CLI.
    sys.exit(result.exit_code)


@group.command("confirm", cls=_GitBisectCommand)
@click.option("--context", required=True, type=click.Path(dir_okay=False), help="Context from `bisect start`.")
@click.option("--kernel", required=True, type=click.Path(dir_okay=False), help="Kernel image of the named culprit.")
@click.option("--modules", default=None, type=click.Path(dir_okay=False), help="Its modules tarball (.tar.xz).")
@click.option("--gitsha", required=True, help="The named culprit's SHA.")
@click.option("--parent-kernel", required=True, type=click.Path(dir_okay=False),
              help="Kernel image of the culprit's parent.")
@click.option("--parent-modules", default=None, type=click.Path(dir_okay=False),
              help="The parent's modules tarball (.tar.xz).")
@click.option("--parent-gitsha", required=True, help="The parent's SHA.")
def confirm_cmd(context, kernel, modules, gitsha, parent_kernel, parent_modules, parent_gitsha):
    """Re-test a named culprit against its parent: exit 0 CONFIRMED, 1 REJECTED, 125 UNDECIDED, 128 ERROR.

    Boots the parent and the culprit alternately (swprofiles confirm-<sha12>) until the
    policy can tell whether the culprit is worse than its parent by the regression's size;
    adjacent sessions cancel a machine that drifted during the bisection. REJECTED means
    the bisection's answer should not be believed. Recorded sessions are reused.

    \b
    Example (in the kernel tree, after git bisect named $CULPRIT):
      FP_SCRIPTS=$(fastpath scripts)
      git checkout $CULPRIT^ && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env
      cp $KERNEL_PATH /tmp/parent.img && cp $MODULES_PATH /tmp/parent-modules.tar.xz
      PARENT=$GITSHA
      git checkout $CULPRIT && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env
      fastpath bisect confirm --context bisection_context.yaml --kernel $KERNEL_PATH \\
        --modules $MODULES_PATH --gitsha $GITSHA --parent-kernel /tmp/parent.img \\
        --parent-modules /tmp/parent-modules.tar.xz --parent-gitsha $PARENT
    """
    from fastpath.bisect.confirm import confirm

    result = confirm(context, kernel, modules or None, gitsha, parent_kernel, parent_modules or None,
                     parent_gitsha)
    click.echo(verdict_line(result), err=result.outcome == "ERROR")
    if result.decision is not None and result.decision.reason:
        click.echo(f"  {result.decision.reason}")
    sys.stdout.flush()
    sys.exit(result.exit_code)


@group.command("rebaseline")
@click.option("--context", required=True, type=click.Path(dir_okay=False), help="Context from `bisect start`.")
@click.option("--good-kernel", required=True, type=click.Path(dir_okay=False),
              help="Kernel image of the context's good_sha.")
@click.option("--good-modules", default=None, type=click.Path(dir_okay=False), help="Its modules tarball.")
@click.option("--bad-kernel", required=True, type=click.Path(dir_okay=False),
              help="Kernel image of the context's bad_sha.")
@click.option("--bad-modules", default=None, type=click.Path(dir_okay=False), help="Its modules tarball.")
@click.option("--new-context", required=True, type=click.Path(dir_okay=False), help="Context file to write.")
@click.option("--sessions", type=click.IntRange(2, 1000), default=None,
              help="Sessions of each fresh baseline (default: as many as the context's good baseline).")
@click.option("--max-sessions", type=click.IntRange(2, 1000), default=100, show_default=True,
              help="Record up to this many when the policy says the fresh baselines cannot be told apart.")
def rebaseline_cmd(context, good_kernel, good_modules, bad_kernel, bad_modules, new_context, sessions,
                   max_sessions):
    """Record fresh baselines, alternately, and write a new context over them.

    For a bisection whose culprit `bisect confirm` did not confirm: the machine has likely
    moved since the baselines were recorded. Boots the good and the bad kernel in turn as
    swprofiles <good>-rebase<n> and <bad>-rebase<n> into the context's output store (the
    original store is never written), runs `bisect start`'s checks over them and writes
    NEW_CONTEXT, with a new output store. Then bisect the whole range again with it.

    \b
    Example (in the kernel tree):
      FP_SCRIPTS=$(fastpath scripts)
      git checkout $GOOD_SHA && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env
      cp $KERNEL_PATH /tmp/good.img; cp $MODULES_PATH /tmp/good-modules.tar.xz
      git checkout $BAD_SHA && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env
      fastpath bisect rebaseline --context bisection_context.yaml --good-kernel /tmp/good.img \\
        --good-modules /tmp/good-modules.tar.xz --bad-kernel $KERNEL_PATH --bad-modules $MODULES_PATH \\
        --new-context bisection_context.retry1.yaml
    """
    from fastpath.bisect import context as contexts
    from fastpath.bisect.rebaseline import rebaseline

    made = rebaseline(contexts.load(context), good_kernel, good_modules, bad_kernel, bad_modules, new_context,
                      sessions=sessions, max_sessions=max_sessions, say=click.echo)
    ctx = made.context
    click.echo(f"context: {new_context}\ngood: {ctx.good_swprofile} {ctx.good_sha}\n"
               f"bad: {ctx.bad_swprofile} {ctx.bad_sha}\nfresh baseline sessions: {made.sessions_run}\n"
               f"output-resultstore: {ctx.output_resultstore}")
    if ctx.ends_not_apart:
        from fastpath.bisect.baselines import not_apart_warning
        from fastpath.bisect.engine import EngineParams

        click.echo(not_apart_warning(ctx.ends_not_apart, EngineParams().end_budget), err=True)


@group.command("auto")
@click.option("--context", required=True, type=click.Path(dir_okay=False), help="Context from `bisect start`.")
@click.option("--tree", type=click.Path(file_okay=False), default=".", show_default=True,
              help="The kernel git tree.")
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="When the named culprit is not confirmed: fresh baselines and a new bisection, this often.")
@click.option("--baseline-sessions", type=click.IntRange(2, 1000), default=None,
              help="Sessions of each fresh baseline (default: as many as the context's good baseline).")
@click.option("--max-baseline-sessions", type=click.IntRange(2, 1000), default=100, show_default=True,
              help="Record up to this many when the policy says fresh baselines cannot be told apart.")
@click.option("--scripts", type=click.Path(file_okay=False), default=None,
              help="Directory with execute_bisection.sh (default: the installed ones, `fastpath scripts`).")
@click.option("--no-progress", is_flag=True, help="Do not show progress lines while sessions run.")
@click.option("--engine", "engine_name", type=click.Choice(["posterior", "git"]), default="posterior",
              show_default=True, help="posterior: one model of the whole range, boots where a session tells most; "
                                      "git: the per-commit flow through git bisect run (below).")
@click.option("--engine-param", "engine_param", multiple=True, metavar="KEY=VALUE",
              help="An engine parameter (repeatable), e.g. eps=0.01 or budget=200 (docs/bisection.md).")
@click.option("--suts", type=click.IntRange(1, 64), default=1, show_default=True,
              help="The engine boots this many commits at once, one per SUT of the plan's sut.pool (docs/pool.md).")
@click.option("--ahead", type=click.IntRange(0, 16), default=0, show_default=True, metavar="SLOTS",
              help="The engine's kernels built ahead: while sessions run, this many builds at once of the commits "
                   "it is likely to ask for next (git worktrees under TREE/.fastpath-build/ahead); 0: each built "
                   "just before its session (docs/pool.md).")
def auto_cmd(context, tree, retries, baseline_sessions, max_baseline_sessions, scripts, no_progress, engine_name,
             engine_param, suts, ahead):
    """Bisect in the kernel tree: the engine by default, or git bisect run with confirmation.

    \b
    --engine posterior (default): the range's commits are built and booted one session at a
    time where the engine's posterior says a session tells most about where the benchmark
    changed (the ends included, when their levels are in doubt); it stops when the culprit
    holds 1 - eps of the posterior (then exit 0, the answer written into git as bisect
    marks), or at the session budget (exit 1, inconclusive, with the candidates). Every
    session is kept in the output store and logged in the context: run it again to resume.

    --engine git: git bisect start/good/bad, git bisect run
    scripts/execute_bisection.sh CONTEXT; then `bisect confirm` of the named commit against
    its parent (when git leaves only skipped commits, each candidate, oldest first). When a
    confirmation measures no step, or cannot decide, the baselines are stale: the good and bad
    kernels are built and measured again (`bisect rebaseline`) and the range bisected again
    with the new context, at most RETRIES times. Exit 0 with a confirmed culprit, 1 when
    nothing was confirmed, 2 when the SUT, the store or a build stopped it; the tree is
    returned to its branch, also on Ctrl-C or SIGTERM (130).

    \b
    Example:
      fastpath bisect start ... --context bisection_context.yaml
      cd /path/to/linux && fastpath bisect auto --context /path/to/bisection_context.yaml
    """
    import signal

    from fastpath.bisect import auto

    def interrupted(signum, frame):     # a killed job or a closed terminal cleans up as Ctrl-C does
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    if engine_name == "posterior":
        from fastpath.bisect import search
        from fastpath.bisect.engine import parse_params

        found = search.search(context, tree, scripts, parse_params(engine_param), progress=not no_progress,
                              say=click.echo, suts=suts, ahead=ahead)
        click.echo(search.summary(found))
        sys.exit(found.exit_code)
    if suts > 1 or ahead:
        from fastpath.errors import UserError
        raise UserError(f"{'--suts' if suts > 1 else '--ahead'} needs the engine (--engine posterior); the git "
                        f"flow runs on one SUT and builds each commit git asks for")
    result = auto.bisect_tree(auto.AutoOptions(
        context=context, tree=tree, scripts=scripts, retries=retries, baseline_sessions=baseline_sessions,
        max_baseline_sessions=max_baseline_sessions, progress=not no_progress), say=click.echo)
    click.echo(auto.summary(result))
    sys.exit(result.exit_code)


_TREE = click.option("--tree", type=click.Path(file_okay=False), default=None,
                     help="The kernel git tree: commit subjects and authors, and the history between the ends.")


@group.command("report")
@click.argument("context", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "html", "json"]), default="text", show_default=True,
              help="text for an email, html for one self-contained page with plots, json for scripts.")
@_TREE
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file instead of standard output.")
def report_cmd(context, fmt, tree, output):
    """Report a bisection: the culprit, the culprit against its parent over every result class,
    the SUT, the path the bisection took and how to reproduce it.

    Reads the context and its output store (never written). Without --tree the report has
    SHAs only, and a bisection by git bisect run is reported between the newest good and
    the oldest bad commit tested.

    \b
    Example:
      fastpath bisect report bisection_context.yaml --tree ~/linux > report.txt
      fastpath bisect report bisection_context.yaml --tree ~/linux --format html -o report.html
    """
    import json

    from fastpath.report import bisection

    rep = bisection.load(context, tree)
    if fmt == "html":
        from fastpath.report import html
        out = html.render(rep)
    elif fmt == "json":
        out = json.dumps(rep.as_dict(), indent=1) + "\n"
    else:
        from fastpath.report import text
        out = text.render(rep)
    _emit(out, output)


def _emit(out: str, output: str | None) -> None:
    if output is None:
        click.echo(out, nl=False)
        return
    from fastpath.errors import UserError

    try:
        with open(output, "w") as fh:
            fh.write(out)
    except OSError as err:
        raise UserError(f"--output {output}: cannot write: {err.strerror or err}") from None
    click.echo(f"wrote {output}")


@group.command("status")
@click.argument("context", type=click.Path(dir_okay=False))
@_TREE
def status_cmd(context, tree):
    """Where a bisection stands: commits tested, verdicts, sessions spent, what is left and an
    estimate of the sessions and time to go.

    \b
    Example:
      fastpath bisect status bisection_context.yaml --tree ~/linux
    """
    from fastpath.report import bisection, status

    click.echo(status.status(bisection.load(context, tree)), nl=False)


@group.command("log")
@click.argument("context", type=click.Path(dir_okay=False))
@_TREE
def log_cmd(context, tree):
    """The bisection's steps in order, as `git bisect log` prints them, with the evidence of each.

    \b
    Example:
      fastpath bisect log bisection_context.yaml --tree ~/linux
    """
    from fastpath.report import bisection, status

    click.echo(status.log(bisection.load(context, tree)), nl=False)


@group.command("shas")
@click.argument("context", type=click.Path(dir_okay=False))
def shas_cmd(context):
    """Print GOOD_SHA=... and BAD_SHA=... of the context, for a shell's eval.

    \b
    Example:
      eval "$(fastpath bisect shas bisection_context.yaml)"
      git bisect start && git bisect good $GOOD_SHA && git bisect bad $BAD_SHA
    """
    from fastpath.bisect import context as contexts
    from fastpath.report import status

    ctx = contexts.load(context)
    click.echo(status.shas(ctx.good_sha, ctx.bad_sha), nl=False)
