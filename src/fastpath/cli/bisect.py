"""`fastpath bisect`: Bisect a kernel regression with git bisect."""

from __future__ import annotations

import click


@click.group(name="bisect")
def group() -> None:
    """Bisect a kernel regression with git bisect."""
