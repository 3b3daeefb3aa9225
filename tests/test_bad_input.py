"""Bad input through the real CLI: one clear line and a non-zero exit, or correct handling."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from support import run_cli, write_tone


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
