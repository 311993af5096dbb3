"""`fastpath sut`: Inspect a SUT (System Under Test)."""

from __future__ import annotations

import click


@click.group(name="sut")
def group() -> None:
    """Inspect a SUT (System Under Test)."""


@group.command(name="fingerprint")
@click.option("--host", help="Host name, address or ~/.ssh/config Host alias.")
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False),
              help="Instead of --host: every SUT of this plan's pool (reserved, fingerprinted, "
                   "released), then whether they are identical (exit 1 naming the field if not).")
@click.option("--user", help="SSH user (default: from ~/.ssh/config or the local user).")
@click.option("--port", type=click.IntRange(1, 65535), help="SSH port.")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="SSH private key.")
@click.option("--known-hosts", type=click.Path(dir_okay=False), help="known_hosts file to check the host key against.")
@click.option("--accept-new-host-key", is_flag=True,
              help="Trust and remember an unknown host key (default: refuse it).")
def fingerprint_(host, plan_file, user, port, keyfile, known_hosts, accept_new_host_key) -> None:
    """Print the SUT's hardware (HW) and software (SW) fingerprint as YAML.

    \b
    Example:
      fastpath sut fingerprint --host 127.0.0.1 --port 2222 --user root --keyfile ~/.ssh/id_ed25519
      fastpath sut fingerprint --plan pool-plan.yaml
    """
    if (host is None) == (plan_file is None):
        raise click.UsageError("give --host or --plan")
    import yaml

    from fastpath.sut import Connection, Transport, fingerprint

    if plan_file:
        from fastpath.plan import load_plan
        from fastpath.pool.identical import check_identical, fingerprint_pool

        sut = load_plan(plan_file).sut
        if sut.pool is None:
            raise click.UsageError(f"--plan {plan_file}: its SUT has no pool; use --host")
        fps = fingerprint_pool(sut, say=lambda m: click.echo(m, err=True))
        click.echo(yaml.safe_dump({n: fp.as_dict() for n, fp in fps.items()}, sort_keys=False).rstrip())
        check_identical(fps)
        click.echo(f"# the {len(fps)} SUTs are identical")
        return
    conn = Connection(host=host, user=user, port=port, keyfile=keyfile, known_hosts=known_hosts,
                      accept_new_host_key=accept_new_host_key)
    with Transport(conn) as t:
        fp = fingerprint(t)
    click.echo(yaml.safe_dump(fp.as_dict(), sort_keys=False).rstrip())
