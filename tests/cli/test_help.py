"""`genrescope --help` in two rooms: the user's commands first, the research and training ones under their own
heading, while every command still parses and keeps its own help."""

from __future__ import annotations

import pytest

from genrescope.stream.cli.commands import build_parser
from support import RESEARCH_COMMANDS as RESEARCH
from support import USER_COMMANDS as USER
from support import run_cli


def listed(section: str) -> list[str]:
    """The command names a help section lists: the first word of each line indented by two spaces."""
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ") and not line.startswith("   ")]


def test_top_level_help_leads_with_the_user_commands_and_groups_the_research_ones() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    commands = text.index("\ncommands:\n")
    research = text.index("\nresearch and training commands:\n")
    examples = text.index("\nexamples:\n")
    assert commands < research < examples
    assert listed(text[commands:research]) == list(USER)
    assert listed(text[research:examples].split("\n\n", 1)[1]) == list(RESEARCH)


def test_every_command_still_parses_where_it_always_did() -> None:
    parser = build_parser()
    assert parser.parse_args(["train", "--epochs", "3"]).command == "train"
    assert parser.parse_args(["cv", "--folds", "4"]).command == "cv"
    assert parser.parse_args(["file", "song.mp3"]).command == "file"


@pytest.mark.parametrize("command", [*USER, *RESEARCH])
def test_each_command_keeps_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: genrescope {command} ")
