"""`genrescope train --help` teaches every setting, not just its default."""

import argparse
import subprocess
from dataclasses import fields

from genrescope.training.genre.config import TrainConfig, add_arguments
from support import cli_command


def test_every_training_setting_has_a_help_line():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    helps = {action.dest: action.help for action in parser._actions}
    for setting in fields(TrainConfig):
        text = helps[setting.name]
        assert len(text.split("(default")[0].split()) >= 3, f"--{setting.name} only states its default: {text!r}"
        assert not text.endswith("(default: )"), f"--{setting.name} shows an empty default"


def test_train_help_runs_and_shows_an_example():
    result = subprocess.run(cli_command("train", "--help"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--crop-distribution" in result.stdout
    assert "example" in result.stdout and "genrescope export" in result.stdout
