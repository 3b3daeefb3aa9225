"""Shared fixtures: a real exported model (random weights) and real audio."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from model.card import ModelCard
from model.crnn import CRNNConfig, GenreCRNN
from model.export import export_genre_model
from model.spec import FrontendSpec
from training.config import DEFAULT_DATA_ROOT
from training.fma import GENRES

DATA_ROOT = Path(os.environ.get("GENRESCOPE_DATA", DEFAULT_DATA_ROOT))
MUSIC_DIR = DATA_ROOT / "music"


@pytest.fixture(scope="session")
def test_model_path(tmp_path_factory) -> Path:
    """The real architecture with seeded random weights, exported like the shipped model.

    Tests that check plumbing (shapes, metadata, streaming) use it so they do not depend
    on the trained weights; never shipped.
    """
    torch.manual_seed(0)
    model = GenreCRNN(CRNNConfig(n_classes=len(GENRES))).eval()
    card = ModelCard(labels=GENRES, frontend=FrontendSpec(), version="test-random-weights", temperature=1.5)
    path = tmp_path_factory.mktemp("model") / "test_model.onnx"
    export_genre_model(model, card, path)
    return path


@pytest.fixture(scope="session")
def music_clips() -> list[Path]:
    """The two real MP3 clips of ../shared/data/music (skip where absent)."""
    clips = sorted(MUSIC_DIR.glob("*.mp3"))
    if not clips:
        pytest.skip(f"no real music clips under {MUSIC_DIR} (the shared data is not on this machine)")
    return clips


def write_tone(path: Path, seconds: float, rate: int = 44_100, channels: int = 1, frequency: float = 440.0,
               amplitude: float = 0.5) -> Path:
    """A sine tone file, for tests that need audio of a known shape."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    sf.write(path, np.repeat(tone[:, None], channels, axis=1), rate)
    return path
