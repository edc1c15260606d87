"""Generate the CLI reference (docs/cli.md) from the commands' own --help."""

from __future__ import annotations

import click

from .cli import main


def _walk(cmd: click.Command, name: str, parent: click.Context | None):
    ctx = click.Context(
        cmd, info_name=name, parent=parent, terminal_width=100, help_option_names=["-h", "--help"]
    )
    yield ctx
    if isinstance(cmd, click.Group):
        for sub in sorted(cmd.commands):
            yield from _walk(cmd.commands[sub], sub, ctx)


def cli_reference() -> str:
    parts = ["# CLI reference\n\nGenerated from `--help` by `just docs`; do not edit by hand.\n"]
    for ctx in _walk(main, "rsteller-db", None):
        parts.append(f"\n## `{ctx.command_path}`\n\n```\n{ctx.command.get_help(ctx)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(cli_reference(), end="")
