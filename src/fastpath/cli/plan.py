"""`fastpath plan`: Run benchmark plans on a SUT."""

from __future__ import annotations

import click


@click.group(name="plan")
def group() -> None:
    """Run benchmark plans on a SUT."""
