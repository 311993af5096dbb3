"""`fastpath lab`: A QEMU lab: a real kernel and a SUT reached over SSH, no hardware needed."""

from __future__ import annotations

import click
import yaml

HOME_OPTION = click.option("--home", type=click.Path(file_okay=False), default=None,
                           help="Lab state directory (default $FASTPATH_LAB_HOME or ~/.cache/fastpath/lab).")


@click.group(name="lab")
def group() -> None:
    """A QEMU lab: a real kernel and a SUT reached over SSH, no hardware needed."""


@group.command("kernel")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--source", type=click.Path(exists=True, file_okay=False),
              help="Kernel tree to start from (default: Debian's linux-source-6.1).")
@click.option("--no-build", is_flag=True, help="Only prepare the tree; do not build the base kernel.")
@click.option("--jobs", "-j", type=int, default=None, help="Parallel make jobs (default: all CPUs).")
@HOME_OPTION
def kernel_cmd(directory, source, no_build, jobs, home):
    """Prepare a lab kernel git tree in DIRECTORY and build its base kernel.

    The tree gets the lab config (arch/x86/configs/fastpath_lab_defconfig) committed as the
    base, tagged fastpath-lab-base. The base kernel becomes the one `fastpath lab up` boots.

    \b
    Example:
      fastpath lab kernel ~/lab/linux
      fastpath lab kernel ~/lab/linux --source ~/src/linux --no-build
    """
    from fastpath.lab import base

    result = base.make_lab_kernel(directory, source=source, build=not no_build, jobs=jobs, home=home)
    click.echo(f"tree: {result['tree']}\nbase: {result['base']}")
    if "image" in result:
        click.echo(f"image: {result['image']}\nmodules: {result['modules']}\n"
                   f"build_seconds: {result['build_seconds']:.0f}")


@group.command("build")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False),
              help="Where to put bzImage and modules.tar.xz (default DIRECTORY/.fastpath/out/<sha12>).")
@click.option("--jobs", "-j", type=int, default=None, help="Parallel make jobs (default: all CPUs).")
@click.option("--env", "as_env", is_flag=True, help="Print KERNEL_PATH=... lines (scripts/.env form).")
def build_cmd(directory, output, jobs, as_env):
    """Build the checked-out commit of a lab kernel tree (incremental; ccache when installed).

    \b
    Example:
      fastpath lab build ~/lab/linux
      fastpath lab build ~/lab/linux --env > scripts/.env
    """
    from fastpath.lab import kernel

    result = kernel.build(directory, output=output, jobs=jobs)
    if as_env:
        click.echo(result.env(), nl=False)
    else:
        click.echo(f"image: {result.image}\nmodules: {result.modules}\ngitsha: {result.gitsha}\n"
                   f"release: {result.release}\nbuild_seconds: {result.seconds:.0f}")


@group.command("history")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--commits", "-n", type=click.IntRange(2, 1000), required=True, help="How many commits to add.")
@click.option("--regression-size", type=click.FloatRange(0.1, 1000), default=10.0, show_default=True,
              help="How much slower fp-syscall gets at the culprit, in percent.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (culprit position, edits).")
@click.option("--culprit-at", type=int, default=None, help="Put the culprit at this commit (1..N).")
@click.option("--broken-build-at", type=int, default=None,
              help="Commit K (1..N-1) breaks the build; commit K+1 fixes it.")
@click.option("--panic-at", type=int, default=None,
              help="Commit K (1..N-1) panics at boot; commit K+1 fixes it.")
def history_cmd(directory, commits, regression_size, seed, culprit_at, broken_build_at, panic_at):
    """Add a demo history of small commits, one of which slows down getppid().

    The culprit is recorded in .git/fastpath-lab-history.json; `fastpath lab culprit` prints it.

    \b
    Example:
      fastpath lab history ~/lab/linux --commits 30 --regression-size 10 --seed 7
    """
    from fastpath.lab import history

    hist = history.make_history(directory, commits, regression_pct=regression_size, seed=seed,
                                culprit_at=culprit_at, broken_build_at=broken_build_at, panic_at=panic_at)
    click.echo(f"good: {hist['base']}\nbad: {hist['head']}\ncommits: {len(hist['commits'])}")


@group.command("culprit")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def culprit_cmd(directory):
    """Print the commit `fastpath lab history` made slow (the answer a bisection should find).

    \b
    Example:
      fastpath lab culprit ~/lab/linux
    """
    from fastpath.lab import history

    info = history.load(directory)
    click.echo(f"{info['culprit']} {info['culprit_subject']}")


@group.command("up")
@click.option("--kernel", type=click.Path(exists=True, dir_okay=False),
              help="Kernel image to boot (default: the base kernel of `fastpath lab kernel`).")
@click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="auto", show_default=True,
              help="QEMU accelerator; auto tries KVM and keeps it only if it is faster than TCG.")
@click.option("--cmdline", default="", help="Extra kernel command-line words (e.g. panic=-1).")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for SSH.")
@click.option("--boot", type=click.Choice(["kernel", "grub"]), default="kernel", show_default=True,
              help="kernel: QEMU loads the kernel and an initramfs; grub: the BIOS boots GRUB from a "
                   "disk with an ext2 root (a SUT for boot_method: grub).")
@click.option("--count", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Boot this many identical VMs: a pool of SUTs (sut block in <home>/pool.yaml).")
@click.option("--labgrid", "with_labgrid", is_flag=True,
              help="Also start a local labgrid-coordinator and labgrid-exporter exporting the VMs as "
                   "places (NetworkService + a power port that power-cycles the VM).")
@HOME_OPTION
def up_cmd(kernel, accel, cmdline, timeout, boot, count, with_labgrid, home):
    """Boot the lab VM and print the SUT block for a plan (also written to <home>/sut.yaml).

    A comment line before it holds the VM's `fastpath bisect start` connection flags (host,
    port, user, keyfile, known-hosts, power-cycle), ready to paste.

    With --count K (or --labgrid) K VMs boot, and the SUT block of a pool is printed (also in
    <home>/pool.yaml): a static list of the VMs, or with --labgrid the coordinator and the
    tags of the K places.

    \b
    Example:
      fastpath lab up
      fastpath lab up --kernel ~/lab/linux/arch/x86/boot/bzImage
      fastpath lab up --boot grub
      fastpath lab up --count 2 --labgrid
    """
    from fastpath.lab import vm

    if count > 1 or with_labgrid:
        from fastpath.lab import pool

        state = pool.up_pool(count, kernel, home=home, labgrid=with_labgrid, accel=accel,
                             timeout=timeout, cmdline=cmdline, boot=boot)
        click.echo(f"# {count} lab VMs up; written to {state['pool_yaml']}")
        with open(state["pool_yaml"]) as fh:
            click.echo(fh.read(), nl=False)
        return
    lab_vm = vm.up(kernel, home=home, accel=accel, timeout=timeout, cmdline=cmdline, boot=boot)
    click.echo(f"# lab VM up in {lab_vm.boot_seconds:.1f} s ({lab_vm.accel}, pid {lab_vm.pid}); "
               f"written to {lab_vm.home}/sut.yaml")
    click.echo(f"# bisect start connection: {lab_vm.bisect_flags()}")
    click.echo(yaml.safe_dump({"sut": lab_vm.sut()}, sort_keys=False), nl=False)


@group.command("status")
@HOME_OPTION
def status_cmd(home):
    """Show whether the lab VM runs, its port, accelerator, kernel and whether SSH answers.

    After `lab up --count K`: every VM, and the labgrid processes if any.

    \b
    Example:
      fastpath lab status
    """
    from fastpath.lab import pool, vm
    from fastpath.lab.home import lab_home

    root = lab_home(home)
    if pool.member_homes(root) or (root / "grid" / "state.json").exists():
        click.echo(yaml.safe_dump(pool.status_pool(root), sort_keys=False), nl=False)
    else:
        click.echo(yaml.safe_dump(vm.status(home), sort_keys=False), nl=False)


@group.command("down")
@HOME_OPTION
def down_cmd(home):
    """Stop the lab VM (no QEMU process is left), every VM of a pool and its labgrid processes.

    \b
    Example:
      fastpath lab down
    """
    from fastpath.lab import pool

    stopped = pool.down_pool(home)
    if stopped == ["VM vm0"]:
        click.echo("lab VM stopped")
    elif stopped:
        click.echo("stopped: " + ", ".join(stopped))
    else:
        click.echo("lab VM was not running")


@group.command("power-cycle")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for SSH.")
@HOME_OPTION
def power_cycle_cmd(timeout, home):
    """Power-cycle the lab VM: restart QEMU with the base kernel, same port and keys.

    This is the lab's power-cycle hook (`power_cycle` in the SUT block).

    \b
    Example:
      fastpath lab power-cycle
    """
    from fastpath.lab import vm

    lab_vm = vm.power_cycle(home, timeout=timeout)
    click.echo(f"lab VM power-cycled: up in {lab_vm.boot_seconds:.1f} s on port {lab_vm.port}")


@group.command("demo")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where the demo keeps its tree, stores, context and log (default <lab home>/demo).")
@click.option("--commits", "-n", type=click.IntRange(2, 1000), default=12, show_default=True,
              help="Commits in the demo history.")
@click.option("--regression-size", type=click.FloatRange(0.1, 1000), default=50.0, show_default=True,
              help="How much slower getppid() gets at the culprit, in percent.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (where the culprit is).")
@click.option("--sessions", type=click.IntRange(2, 100), default=5, show_default=True,
              help="Baseline sessions (boots) of each of the good and bad kernel; more are recorded "
                   "(up to 20) when the policy says these cannot be told apart.")
@click.option("--culprit-at", type=int, default=None, help="Put the culprit at commit K (1..N).")
@click.option("--broken-build-at", type=int, default=None, help="Also make commit K (1..N-1) not build.")
@click.option("--panic-at", type=int, default=None, help="Also make commit K (1..N-1) panic at boot.")
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="When the named culprit is not confirmed: fresh baselines and a new bisection, this often.")
@click.option("--scripts", type=click.Path(file_okay=False), default=None,
              help="Directory with execute_bisection.sh (default: the installed ones, `fastpath scripts`).")
@click.option("--no-progress", is_flag=True, help="Do not show progress lines while recording baselines.")
@click.option("--engine", type=click.Choice(["posterior", "git"]), default="posterior",
              show_default=True, help="`bisect auto --engine`: the posterior engine, or today's git bisect run flow.")
@click.option("--suts", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Lab VMs: K boot as `lab up --count K` does, the baselines are recorded on the first and "
                   "the engine runs as `bisect auto --suts K` (K commits at a time; engine only).")
@click.option("--ahead", type=click.IntRange(0, 16), default=0, show_default=True, metavar="SLOTS",
              help="Kernels built ahead, as `bisect auto --ahead SLOTS`: while sessions run, this many builds at "
                   "once of the commits the engine is likely to ask for next (engine only).")
@HOME_OPTION
def demo_cmd(workdir, commits, regression_size, seed, sessions, culprit_at, broken_build_at, panic_at,
             retries, scripts, no_progress, engine, suts, ahead, home):
    """The whole job on the lab: record baselines, bisect a real kernel history, name the culprit.

    Builds a real kernel history with a known culprit, boots the lab VM, records the good and
    bad baselines with a plan, then `bisect start` and `bisect auto`: by default the engine
    (one posterior over the range, a session where it tells most); with --engine git the
    seed's sequence (git bisect run scripts/execute_bisection.sh), the named commit confirmed
    against its parent, fresh baselines and a new bisection when it is not. Checks the answer
    against the recorded culprit: exit status 0 when it is right, 1 otherwise.

    \b
    Example:
      fastpath lab demo
      fastpath lab demo --commits 30 --seed 7 --panic-at 4
      fastpath lab demo --suts 2 --ahead 1
    """
    from fastpath.errors import UserError
    from fastpath.lab import demo

    result = demo.run_demo(demo.DemoOptions(
        workdir=workdir, commits=commits, regression_pct=regression_size, seed=seed, sessions=sessions,
        culprit_at=culprit_at, broken_build_at=broken_build_at, panic_at=panic_at, retries=retries,
        scripts=scripts, home=home, progress=not no_progress, engine=engine, suts=suts, ahead=ahead),
        say=click.echo)
    click.echo(demo.summary(result))
    if not result.correct:
        raise UserError("the bisection did not name the recorded culprit (see the lines above)")
