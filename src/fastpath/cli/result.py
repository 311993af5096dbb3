"""`fastpath result`: List, show, merge and import results in a result store."""

from __future__ import annotations

import click


@click.group(name="result")
def group() -> None:
    """List, show, merge and import results in a result store."""
