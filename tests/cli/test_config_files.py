"""A wrong configuration file is one line of error, exit 2, never a traceback and never a
coerced value: sources files through the real `genrescope serve`, training YAML through
the real `genrescope train` (a few, it imports torch) and the loader every training
command shares (the rest of the table)."""

import pytest

from genrescope.training.genre.config import TrainConfig
from genrescope.training.settings import ConfigError, load_settings
from support import run_cli

STREAM = '[[stream]]\nname = "a"\nsource = "demo"\n'

BAD_SOURCES = [
    ('stream = ["radio1"]\n', "stream #1 must be a table of keys and values, got text 'radio1'"),
    ('stream = "radio1"\n', "stream must be a list of [[stream]] tables, got text 'radio1'"),
    ('[stream]\nname = "a"\nsource = "demo"\n', "stream must be a list of [[stream]] tables, got a table"),
    ("stream = 3\n", "stream must be a list of [[stream]] tables, got an integer 3"),
    ("stream = []\n", "no [[stream]] entries"),
    ('title = "x"\n', "unknown key 'title'"),
    ('[[streams]]\nname = "a"\nsource = "demo"\n', "unknown key 'streams'"),
    (STREAM + 'loop = "yes"\n', "stream #1: loop must be true or false, got text 'yes'"),
    (STREAM + "loop = 1\n", "stream #1: loop must be true or false, got an integer 1"),
    ('[[stream]]\nname = 1\nsource = "demo"\n', "stream #1: name must be a string, got an integer 1"),
    ('[[stream]]\nname = "a"\nsource = ["demo"]\n', "stream #1: source must be a string, got a list"),
    ('[[stream]]\nname = "a"\n', "stream #1: source is missing"),
    (STREAM + '[[stream]]\nsource = "demo"\n', "stream #2: name is missing"),
    (STREAM + "looop = true\n", "stream #1: unknown key 'looop'"),
    (STREAM + "[stream.options]\ngain = 2\n", "stream #1: unknown key 'options'"),
    ("[[stream", "not valid TOML"),
]


def assert_one_line_error(result, words):
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("genrescope: error:") and words in lines[0], result.stderr


@pytest.mark.parametrize("text, words", BAD_SOURCES)
def test_a_bad_sources_file_is_one_line(text, words, tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(text)
    assert_one_line_error(run_cli("serve", "--sources", str(path), "--port", "0"), f"{path}: {words}")


BAD_SETTINGS = [
    ('epochs: "10"\n', "setting epochs must be an integer, got text '10' (line 1)"),
    ("epochs: 10.5\n", "setting epochs must be an integer, got a number 10.5"),
    ("seed: true\n", "setting seed must be an integer, got a boolean True"),
    ("lr: 1e-3\n", "setting lr must be a number, got text '1e-3'"),  # YAML 1.1: 1e-3 is text, 1.0e-3 a number
    ("threads: 2\npretrained: 'no'\n", "setting pretrained must be true or false, got text 'no' (line 2)"),
    ("ensemble_teachers: a.pt\n", "setting ensemble_teachers must be a list, each element a string, got text"),
    ("ensemble_teachers: [a.pt, 3]\n", "setting ensemble_teachers must be a list, each element a string"),
    ("batch_size: [32]\n", "setting batch_size must be an integer, got a list [32]"),
    ("run_dir: {a: 1}\n", "setting run_dir must be a string, got a table"),
    ("- epochs\n", "must hold settings as 'name: value' lines"),
    ("epoch: 3\n", "unknown settings"),
]


@pytest.mark.parametrize("text, words", BAD_SETTINGS)
def test_a_bad_training_setting_is_refused_not_coerced(text, words, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as error:
        load_settings(TrainConfig, path)
    assert words in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("text, words", [BAD_SETTINGS[0], BAD_SETTINGS[3], BAD_SETTINGS[5]])
def test_a_bad_training_yaml_through_the_command(text, words, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    assert_one_line_error(run_cli("train", "--config", str(path)), words)


def test_good_files_still_load(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "epochs: 3\nlr: 1.0e-3\nwarmup_epochs: 1\npretrained: false\nensemble_teachers: [a.pt]\nensemble_weight: 0.5\n"
    )
    config = load_settings(TrainConfig, path)
    assert (config.epochs, config.lr, config.warmup_epochs, config.pretrained) == (3, 1e-3, 1, False)
    assert config.ensemble_teachers == ("a.pt",)
