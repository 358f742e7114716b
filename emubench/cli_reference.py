"""The command-line reference in docs/cli.md, generated from the commands' own ``--help``.

``python -m emubench.cli_reference > docs/cli.md`` rewrites it; ``tests/test_docs.py`` fails when the file and
``--help`` disagree, so the reference cannot drift from the code. Built-in commands only (a plugin's commands,
added by ``register_commands``, document themselves through ``--help``). Help is rendered at a fixed width, so
the file does not depend on the terminal it was made in.
"""

from __future__ import annotations

import click

WIDTH = 100
HEADER = """# Command-line reference

Generated from each command's `--help` by `python -m emubench.cli_reference > docs/cli.md`; the test suite fails
when this file and the code disagree. Every command prints one line and exits non-zero on bad input
(`emubench --verbose …` shows the traceback); long work shows a progress bar on a terminal (off with `--quiet`
and in pipes).
"""


def _sections(command: click.Command, path: list[str], parent: click.Context | None) -> list[str]:
    ctx = click.Context(command, info_name=path[-1], parent=parent, terminal_width=WIDTH, max_content_width=WIDTH)
    title = " ".join(path)
    out = [f"## `{title}`\n\n```text\n{command.get_help(ctx)}\n```\n"]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            out += _sections(command.get_command(ctx, name), [*path, name], ctx)
    return out


def markdown() -> str:
    """docs/cli.md as it should read: the header, then one section per command (groups before their commands)."""
    from .cli import cli

    return HEADER + "\n" + "\n".join(_sections(cli, ["emubench"], None))


if __name__ == "__main__":
    print(markdown(), end="")
