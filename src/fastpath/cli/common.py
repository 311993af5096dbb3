"""Helpers shared by the command modules."""

from __future__ import annotations

import click


def usage_line(err: click.UsageError) -> str:
    """A usage error as one line: the command, click's message, where the help is."""
    message = " ".join(err.format_message().split())
    if err.ctx is None:
        return f"Error: {message}"
    return f"Error: {err.ctx.command_path}: {message} (see '{err.ctx.command_path} --help')"
