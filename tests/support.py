"""Helpers test modules import. They live here, not in conftest.py: tests/ and
tests/serve/ each have a conftest.py, both imported as the module ``conftest``, so
``from conftest import ...`` gets whichever pytest loaded last."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from genrescope.model.frontend.frontend import MelFrontend, frame_windows
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.training.genre.config import DEFAULT_DATA_ROOT

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("GENRESCOPE_DATA", DEFAULT_DATA_ROOT))
MUSIC_DIR = DATA_ROOT / "music"

# `genrescope --help`'s two sections, in their order: what the help tests expect
USER_COMMANDS = ("file", "tag", "live", "devices", "serve", "report", "cover")
RESEARCH_COMMANDS = (
    "train",
    "cv",
    "export",
    "evaluate",
    "fourq-build",
    "fourq-eval",
    "domain-check",
    "phases",
    "artists",
    "compare",
    "learning-curve",
    "cover-anchor",
    "cover-train",
    "cover-cv",
    "cover-export",
    "cover-evaluate",
    "fit-fusion",
)


def write_tone(
    path: Path, seconds: float, rate: int = 44_100, channels: int = 1, frequency: float = 440.0, amplitude: float = 0.5
) -> Path:
    """A sine tone file, for tests that need audio of a known shape."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    sf.write(path, np.repeat(tone[:, None], channels, axis=1), rate)
    return path


def cli_command(*args: str) -> list[str]:
    """The command line of ``genrescope ARGS`` as a real process (run it from ``REPO``)."""
    return [sys.executable, "-m", "genrescope.stream.cli", *args]


def tag_write_command(model: Path, folder: Path, db: Path, *options: str) -> list[str]:
    """``genrescope tag FOLDER --write`` on one store, with the test model, one job."""
    return cli_command("tag", str(folder), "--write", "--db", str(db), "--model", str(model), "--jobs", "1", *options)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``genrescope ARGS`` as a real process from the repository root, output captured."""
    return subprocess.run(
        cli_command(*args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def silence(path: Path, **kwargs) -> Path:
    """0.1 s of silence in any format soundfile writes (``kwargs`` go to ``sf.write``)."""
    sf.write(path, np.zeros(4410, dtype=np.float32), 44100, **kwargs)
    return path


def count_columns(spec: FrontendSpec, n_samples: int) -> int:
    """How many columns have their centre inside ``n_samples`` samples."""
    n_frames = 1 + n_samples // spec.hop_length
    count = int(n_frames / spec.frames_per_column)
    while spec.column_frame(count) < n_frames:
        count += 1
    while count and spec.column_frame(count - 1) >= n_frames:
        count -= 1
    return count


def whole_audio_columns_power(frontend: MelFrontend, audio: np.ndarray) -> np.ndarray:
    """Power spectra of every column whose centre lies inside ``audio``, all at once: the
    plain whole-array form that the streaming and block-wise paths must reproduce."""
    spec = frontend.spec
    centers = np.array([spec.column_center(c) for c in range(count_columns(spec, len(audio)))], dtype=np.int64)
    return frontend.frames_power(frame_windows(audio, centers, spec.n_fft))


def whole_audio_columns_db(frontend: MelFrontend, audio: np.ndarray) -> np.ndarray:
    """``whole_audio_columns_power`` as absolute log-mel levels [T, n_mels]."""
    return frontend.power_db(whole_audio_columns_power(frontend, audio))
