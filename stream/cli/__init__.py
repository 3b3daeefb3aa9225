"""The `genrescope` command: its parser and subcommands, argument checks, the terminal view and plots.

The top of the house: may import every other room; nothing in stream/ imports it but itself (serve's checks aside)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """The `genrescope` entry point (``genrescope.stream.cli:main``); loads the commands on call, so that
    importing a helper such as ``cli.checks`` does not import every command."""
    from genrescope.stream.cli.commands import main as run

    return run(argv)
