"""The top-level help in two rooms: the commands a user runs first, the research and training ones apart.

argparse lists every choice of its one subparsers action under one heading. ``group_commands``
moves some of those listings under a heading of their own; parsing is untouched (the commands
stay ``genrescope train ...``), and so is each command's own ``--help``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable


class CommandList(argparse.Action):
    """A heading's list of subcommands, for the help only: it sits in an argument group's
    listing but in no parser's actions, so it never parses anything."""

    def __init__(self, listings: list[argparse.Action]):
        super().__init__(option_strings=[], dest="command", metavar="COMMAND")
        self.listings = listings

    def __call__(self, *args, **kwargs) -> None:  # pragma: no cover - never registered with a parser
        raise AssertionError("a CommandList is only shown, never parsed")

    def _get_subactions(self) -> list[argparse.Action]:  # what argparse's formatter asks a subparsers action
        return self.listings


class CommandListFormatter(argparse.RawDescriptionHelpFormatter):
    """Lists a group's subcommands directly under its heading, without a COMMAND line above them."""

    def _format_action(self, action: argparse.Action) -> str:
        if isinstance(action, (argparse._SubParsersAction, CommandList)):
            return "".join(self._format_action(listing) for listing in action._get_subactions())
        return super()._format_action(action)


def group_commands(
    parser: argparse.ArgumentParser,
    commands: argparse._SubParsersAction,
    names: Iterable[str],
    title: str,
    description: str,
) -> None:
    """Show the subcommands ``names`` of ``commands`` under their own heading in ``parser``'s help."""
    names = set(names)
    listings = commands._choices_actions  # argparse's listing of each choice, in the order added
    moved = [listing for listing in listings if listing.dest in names]
    listings[:] = [listing for listing in listings if listing.dest not in names]
    parser.add_argument_group(title, description)._group_actions.append(CommandList(moved))
