"""`fastpath bisect`: Bisect a kernel regression with git bisect."""

from __future__ import annotations

import sys

import click

from fastpath.bisect.policy import DEFAULT_POLICY, POLICIES


@click.group(name="bisect")
def group() -> None:
    """Bisect a kernel regression with git bisect."""


@group.command("start")
@click.option("--host", required=True, help="SUT host name, address or ~/.ssh/config alias.")
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
@click.option("--sut", required=True, help="SUT name in the result store.")
@click.option("--good-swprofile", required=True, help="Swprofile without the regression.")
@click.option("--bad-swprofile", required=True, help="Swprofile with the regression.")
@click.option("--benchmark", required=True, help="Benchmark id, suite/name.")
@click.option("--resultclass", required=True, help="Result class that regressed.")
@click.option("--resultstore", required=True, help="Store holding both baselines (never written).")
@click.option("--context", required=True, type=click.Path(dir_okay=False), help="Context file to write.")
@click.option("--policy", type=click.Choice(POLICIES), default=DEFAULT_POLICY, show_default=True,
              help="Verdict policy (docs/bisection.md).")
def start_cmd(host, user, port, keyfile, known_hosts, power_cycle, boot_timeout, kernel_config,
              sut, good_swprofile, bad_swprofile,
              benchmark, resultclass, resultstore, context, policy):
    """Check the baselines and write a bisection context.

    Validates that both swprofiles have results for the benchmark and result class on the
    SUT, differ only in kernel_git_sha, that the SUT is single-node and that bad is really
    worse than good; copies the baselines into a temporary result store (the original is
    only read) and writes the context file that `bisect run` reads.

    \b
    Example:
      fastpath bisect start --host test-server --user root --keyfile ~/.ssh/id_rsa \\
        --sut "Ampere Altra Max" --good-swprofile 6.8.0-baseline \\
        --bad-swprofile 6.9.0-regression --benchmark sysbench/thread \\
        --resultclass sysbenchthread-110 --resultstore results.db \\
        --context ./bisection_context.yaml
    """
    from fastpath.bisect.start import StartOptions, start

    ctx = start(StartOptions(
        host=host, user=user, port=port, keyfile=keyfile, known_hosts=known_hosts,
        power_cycle=power_cycle, boot_timeout=boot_timeout, kernel_config=kernel_config, sut=sut,
        good_swprofile=good_swprofile, bad_swprofile=bad_swprofile, benchmark=benchmark,
        resultclass=resultclass, resultstore=resultstore, context=context, policy=policy))
    click.echo(f"context: {context}\ngood: {ctx.good_swprofile} {ctx.good_sha}\n"
               f"bad: {ctx.bad_swprofile} {ctx.bad_sha}\npolicy: {ctx.policy['name']}\n"
               f"output-resultstore: {ctx.output_resultstore}")


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
            err.show()
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
    Example:
      ./scripts/build_local_kernel.sh && source ./scripts/.env
      fastpath bisect run --context bisection_context.yaml --kernel $KERNEL_PATH \\
        --modules $MODULES_PATH --gitsha $GITSHA
    """
    from fastpath.bisect.run import run

    result = run(context, kernel, modules or None, gitsha)
    click.echo(result.line, err=result.outcome == "ERROR")
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
    Example (after git bisect named $CULPRIT):
      git checkout $CULPRIT^ && ./scripts/build_local_kernel.sh && source ./scripts/.env
      cp $KERNEL_PATH /tmp/parent.img; PARENT=$GITSHA
      git checkout $CULPRIT && ./scripts/build_local_kernel.sh && source ./scripts/.env
      fastpath bisect confirm --context bisection_context.yaml --kernel $KERNEL_PATH \\
        --gitsha $GITSHA --parent-kernel /tmp/parent.img --parent-gitsha $PARENT
    """
    from fastpath.bisect.confirm import confirm

    result = confirm(context, kernel, modules or None, gitsha, parent_kernel, parent_modules or None,
                     parent_gitsha)
    click.echo(result.line, err=result.outcome == "ERROR")
    if result.decision is not None and result.decision.reason:
        click.echo(f"  {result.decision.reason}")
    sys.stdout.flush()
    sys.exit(result.exit_code)
