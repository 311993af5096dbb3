"""`fastpath lab`: A QEMU lab: a real kernel and a SUT reached over SSH, no hardware needed."""

from __future__ import annotations

import click


@click.group(name="lab")
def group() -> None:
    """A QEMU lab: a real kernel and a SUT reached over SSH, no hardware needed."""
