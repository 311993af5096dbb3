"""`fastpath sut`: Inspect a SUT (System Under Test)."""

from __future__ import annotations

import click


@click.group(name="sut")
def group() -> None:
    """Inspect a SUT (System Under Test)."""
