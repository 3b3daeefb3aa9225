"""Bad input through the real CLI: one clear line and a non-zero exit, or correct handling."""

import argparse
import json
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from support import REPO, cli_command, run_cli, write_tone


def genrescope(*args: str, model: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, "--model", str(model), "--quiet")


def assert_clear_error(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("genrescope: error:") and words in lines[0], result.stderr


def test_missing_file(test_model_path, tmp_path):
    assert_clear_error(genrescope("file", str(tmp_path / "nope.mp3"), model=test_model_path), "no such file")


def test_empty_file(test_model_path, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert_clear_error(genrescope("file", str(empty), model=test_model_path), "empty")


def test_not_audio(test_model_path, tmp_path):
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio\n" * 50)
    assert_clear_error(genrescope("file", str(text), model=test_model_path), "not an audio file")


def test_corrupt_header(test_model_path, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    write_tone(corrupt, 2.0)
    data = bytearray(corrupt.read_bytes())
    data[8:16] = b"GARBAGE!"
    corrupt.write_bytes(bytes(data))
    assert_clear_error(genrescope("file", str(corrupt), model=test_model_path), "corrupt")


def test_zero_length_stream(test_model_path, tmp_path):
    silent = tmp_path / "zero.wav"
    sf.write(silent, np.zeros((0, 1), dtype=np.float32), 44_100)
    assert_clear_error(genrescope("file", str(silent), model=test_model_path), "no audio samples")


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_truncated_file_keeps_what_is_there(test_model_path, tmp_path, suffix):
    whole = write_tone(tmp_path / f"whole{suffix}", 6.0)
    cut = tmp_path / f"cut{suffix}"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    result = genrescope("file", str(cut), "--jsonl", str(tmp_path / "out.jsonl"), model=test_model_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    updates = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(updates) >= 5  # ≈3 s decoded → ≈9 updates after the first second


def test_silence_is_handled(test_model_path, tmp_path):
    quiet = tmp_path / "silence.wav"
    sf.write(quiet, np.zeros((44_100 * 3, 2), dtype=np.float32), 44_100)
    result = genrescope("file", str(quiet), model=test_model_path)
    assert result.returncode == 0 and "final:" in result.stderr


def test_model_without_metadata_is_refused(tmp_path):
    junk = tmp_path / "model.onnx"
    junk.write_bytes(b"\x08\x07")
    tone = write_tone(tmp_path / "tone.wav", 2.0)
    assert_clear_error(genrescope("file", str(tone), model=junk), "not a valid ONNX model")


# --- every numeric option has a range, checked before anything loads -----------------


def numeric_options_without_a_range() -> list[str]:
    """Options of every command whose type is a bare int or float (no range check)."""
    from genrescope.stream.cli.commands import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [
        f"{name} {action.option_strings or action.dest}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if action.type in (int, float)
    ]


def test_every_numeric_option_of_every_command_has_a_range():
    assert numeric_options_without_a_range() == []


@pytest.mark.parametrize(
    "args",
    [
        ("file", "x.wav", "--context", "0"),
        ("file", "x.wav", "--smoothing", "-1"),
        ("file", "x.wav", "--smoothing", "nan"),
        ("file", "x.wav", "--serve", "--port", "70000"),
        ("serve", "--port", "-1"),
        ("serve", "--port", "eighty"),
        ("serve", "--stall-seconds", "0"),
        ("live", "--seconds", "0"),
        ("live", "--context", "inf"),
        ("tag", "x.wav", "--jobs", "0"),
        ("cover", "x.jpg", "--top", "0"),
        ("cv", "--folds", "1"),
        ("cv", "--threads", "0"),
        ("evaluate", "--threads", "-2"),
        ("train", "--epochs", "0"),
        ("train", "--training-artists", "25"),
        ("train", "--label-smoothing", "1"),
    ],
    ids=lambda args: " ".join(args),
)
def test_numbers_out_of_range_are_refused_in_one_line(args):
    option = next(a for a in args if a.startswith("--") and a != "--serve")
    assert_clear_error(run_cli(*args), f"argument {option}: ")


def test_out_of_range_settings_in_a_yaml_config(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 0\n")
    assert_clear_error(run_cli("train", "--config", str(config)), "setting epochs must be an integer ≥ 1")
    config.write_text("epochs: [\n")
    assert_clear_error(run_cli("train", "--config", str(config)), "not valid YAML")


def test_a_host_that_does_not_resolve():
    assert_clear_error(run_cli("serve", "--host", "nonsense.invalid", "--allow-remote"), "cannot listen on nonsense")


def test_an_empty_token_is_refused():
    assert_clear_error(run_cli("serve", "--token", ""), "--token is empty")


# --- output paths: refused up front, before the stream ---------------------------------


def unwritable_folder() -> Path:
    """A folder even root cannot create files in (sysfs); skip where that is not so."""
    folder = Path("/sys")
    try:
        (folder / "genrescope-probe").touch()
    except OSError:
        return folder
    pytest.skip("no folder here is unwritable for this user")


OUTPUT_CASES = ["folder", "missing-parent", "parent-is-a-file", "unwritable"]


@pytest.mark.parametrize(
    ("option", "case"),
    [("--jsonl", case) for case in OUTPUT_CASES] + [("--plot", case) for case in [*OUTPUT_CASES, "bad-extension"]],
)
def test_output_paths_that_cannot_be_written(test_model_path, tmp_path, option, case):
    tone = write_tone(tmp_path / "tone.wav", 2.0)
    (tmp_path / "a-file").write_text("x")
    target, words = {
        "folder": (tmp_path, "is a folder"),
        "missing-parent": (tmp_path / "no" / "such" / "out.png", "does not exist"),
        "parent-is-a-file": (tmp_path / "a-file" / "out.png", "does not exist"),
        "unwritable": (None, "ermission denied"),
        "bad-extension": (tmp_path / "out.xyz", "cannot draw"),
    }[case]
    target = target or unwritable_folder() / "out.png"
    result = genrescope("file", str(tone), option, str(target), model=test_model_path)
    assert_clear_error(result, words)
    assert "audio" not in result.stdout  # refused before streaming


def test_tag_jsonl_into_a_folder(tmp_path):
    tone = write_tone(tmp_path / "tone.wav", 2.0)
    assert_clear_error(run_cli("tag", str(tone), "--jsonl", str(tmp_path)), "is a folder")


def test_jsonl_to_a_pipe_that_closes_ends_quietly(test_model_path, tmp_path):
    """`genrescope file x --jsonl - | head -n 1`: no BrokenPipeError, the SIGPIPE status."""
    tone = write_tone(tmp_path / "long.wav", 120.0)  # ≈500 updates: far more than a pipe holds
    process = subprocess.Popen(
        cli_command(
            "file",
            str(tone),
            "--jsonl",
            "-",
            "--quiet",
            "--model",
            str(test_model_path),
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = json.loads(process.stdout.readline())
    process.stdout.close()  # as `head -n 1` does after its line
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141, stderr
    assert first["type"] == "update"
    assert stderr == ""


def test_jsonl_to_a_pipe_that_closes_while_serving_stops_the_stream_quietly(test_model_path, tmp_path):
    """`genrescope file x --serve --jsonl - | head -n 1`: the engine thread writes the JSON
    lines; the closed pipe ends the stream with one warning, never a traceback."""
    tone = write_tone(tmp_path / "tone.wav", 12.0)  # played at 1x: ≈50 updates, past Python's 8 KB buffer
    process = subprocess.Popen(
        cli_command(
            "file",
            str(tone),
            "--jsonl",
            "-",
            "--quiet",
            "--serve",
            "--exit-at-end",
            "--port",
            "0",
            "--model",
            str(test_model_path),
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = json.loads(process.stdout.readline())
    process.stdout.close()  # as `head -n 1` does after its line
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0, stderr
    assert first["type"] == "update" and "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert "output pipe was closed by its reader; the stream stopped" in stderr


# --- serve refuses a broken file up front, like `file` ---------------------------------


@pytest.mark.parametrize("command", [("serve", "--source"), ("file", "--serve")], ids=["serve", "file --serve"])
def test_serving_a_broken_file_is_refused_up_front(test_model_path, tmp_path, command):
    broken = tmp_path / "broken.mp3"
    broken.write_text("this is not audio\n" * 50)
    args = [command[0], str(broken), command[1]] if command[0] == "file" else [*command, str(broken)]
    result = run_cli(*args, "--exit-at-end", "--port", "0", "--model", str(test_model_path))
    assert_clear_error(result, "not an audio file")
    assert "genrescope: serving" not in result.stderr


# --- cover: the image decoder's own words ----------------------------------------------


def cover(*inputs: Path) -> subprocess.CompletedProcess:
    return run_cli("cover", *map(str, inputs))


def assert_one_input_error(result: subprocess.CompletedProcess, *words: str) -> None:
    """`cover` reports each bad input on one line and goes on; the status is 1."""
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and ": error: " in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert all(word in lines[0] for word in words), lines[0]


def test_cover_truncated_image_says_so(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.effect_noise((256, 256), 64).convert("RGB").save(whole, quality=90)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert_one_input_error(cover(truncated), "not a readable image", "truncated")


def test_cover_non_image_with_an_image_name(tmp_path):
    text = tmp_path / "cover.png"
    text.write_text("not a picture\n")
    assert_one_input_error(cover(text), "not a readable image", "cannot identify image file")


def test_cover_neither_image_nor_audio(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture\n")
    assert_one_input_error(cover(text), "neither a readable image", "cannot identify image file", "not an audio file")


def test_cover_decompression_bomb_is_one_line(tmp_path):
    """A PNG header claiming 30,000 × 30,000 pixels: refused from the header alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    assert_one_input_error(cover(bomb), "too large to decode safely")
