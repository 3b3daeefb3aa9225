"""Every training-side job is a `genrescope` subcommand with a help that teaches, in one
configuration style, and building the parser loads no torch."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from genrescope.stream.cli.commands import build_parser
from genrescope.training.commands import add_commands
from genrescope.training.cover.cover_config import CoverTrainConfig, FusionFitConfig
from genrescope.training.settings import settings_from_arguments
from support import RESEARCH_COMMANDS, cli_command


def training_commands() -> dict[str, argparse.ArgumentParser]:
    commands = argparse.ArgumentParser().add_subparsers()
    add_commands(commands)
    return dict(commands.choices)


def test_every_job_is_a_subcommand_whose_help_shows_an_example():
    commands = training_commands()
    assert set(commands) == set(RESEARCH_COMMANDS)
    main = build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        assert name in main
        text = parser.format_help()
        assert "example" in text and f"genrescope {name}" in text, name
        assert len((parser.description or "").split()) >= 10, f"{name} --help does not say what it does"


def test_building_the_parser_imports_no_torch():
    code = (
        "import sys; from genrescope.stream.cli.commands import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_cover_settings_come_from_yaml_and_flags_win(tmp_path: Path):
    recipe = tmp_path / "cover.yaml"
    recipe.write_text("seed: 3\nl2_grid: [0.5, 2.0]\ninner_folds: 5\n")
    args = training_commands()["cover-train"].parse_args(
        ["--config", str(recipe), "--l2-grid", "0.1", "1", "--run-dir", str(tmp_path)]
    )
    config = settings_from_arguments(args, CoverTrainConfig)
    assert config == CoverTrainConfig(seed=3, l2_grid=(0.1, 1.0), inner_folds=5, run_dir=str(tmp_path))


def test_an_unknown_setting_in_yaml_is_refused(tmp_path: Path):
    recipe = tmp_path / "fusion.yaml"
    recipe.write_text("pairing: 5\n")  # a typo of pairings
    args = training_commands()["fit-fusion"].parse_args(["--config", str(recipe)])
    with pytest.raises(ValueError, match="pairing"):
        settings_from_arguments(args, FusionFitConfig)


@pytest.mark.parametrize(
    "argv", [["fit-fusion", "--audio-model", "no-such-model.onnx"], ["cover-export", "no-such-checkpoint.pt"]]
)
def test_a_missing_input_is_one_line_and_exit_2(argv, tmp_path: Path):
    pytest.importorskip("torch", reason="the training commands need the [train] extra")
    result = subprocess.run(
        cli_command(*argv),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("genrescope: error:") and len(result.stderr.strip().splitlines()) == 1
