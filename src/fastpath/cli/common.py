"""Helpers shared by the command modules."""

from __future__ import annotations

import click


def usage_line(err: click.UsageError) -> str:
    """A usage error as one line: the command, click's message, where the help is."""
    message = " ".join(err.format_message().split())
    if err.ctx is None:
        return f"Error: {message}"
    return f"Error: {err.ctx.command_path}: {message} (see '{err.ctx.command_path} --help')"


def flag_words(err: Exception, command: click.Command | None) -> str:
    """An error's message for the command line: a UserError's parameters (``params``) named
    as ``command``'s flag of that name (``--tree``; an argument by its metavar), a parameter
    the command has not in the library's words. Any other error: ``str(err)``."""
    from fastpath.errors import UserError, api_name

    if not isinstance(err, UserError) or command is None:
        return str(err)
    by_name = {param.name: param for param in command.params}

    def flag(name: str) -> str:
        param = by_name.get(name)
        if param is None:
            return api_name(name)
        if isinstance(param, click.Option):
            return next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
        return param.human_readable_name

    return err.render(flag)


def verdict_line(result) -> str:
    """A `bisect run`/`confirm` result's line; an ERROR's error in the current command's flags."""
    if getattr(result, "error", None) is None:
        return result.line
    return f"Error: {flag_words(result.error, click.get_current_context().command)}"
