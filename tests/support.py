"""Helpers test modules import. They live here, not in conftest.py: tests/ and
tests/server/ each have a conftest.py, both imported as the module ``conftest``, so
``from conftest import ...`` gets whichever pytest loaded last."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from genrescope.training.config import DEFAULT_DATA_ROOT

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("GENRESCOPE_DATA", DEFAULT_DATA_ROOT))
MUSIC_DIR = DATA_ROOT / "music"


def write_tone(path: Path, seconds: float, rate: int = 44_100, channels: int = 1, frequency: float = 440.0,
               amplitude: float = 0.5) -> Path:
    """A sine tone file, for tests that need audio of a known shape."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    sf.write(path, np.repeat(tone[:, None], channels, axis=1), rate)
    return path


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``genrescope ARGS`` as a real process from the repository root, output captured."""
    return subprocess.run([sys.executable, "-m", "genrescope.stream.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def silence(path: Path, **kwargs) -> Path:
    """0.1 s of silence in any format soundfile writes (``kwargs`` go to ``sf.write``)."""
    sf.write(path, np.zeros(4410, dtype=np.float32), 44100, **kwargs)
    return path
