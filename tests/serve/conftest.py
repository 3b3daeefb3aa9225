"""Fixtures for the server tests: the real engine on a real model and real audio."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness import Feed
from genrescope.model.session import GenreModel
from genrescope.stream.sources.demo import RATE, DemoSource
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.sources.filesource import FileSource

MUSIC_SECONDS = 60.0  # long enough that realtime tests never reach its end
SHORT_SECONDS = 5.0  # for tests that wait for the end in real time


@pytest.fixture(scope="session")
def genre_model(test_model_path: Path) -> GenreModel:
    return GenreModel.load(test_model_path, threads=1, prefer_gpu=False)


def _write_loop(path: Path, seconds: float) -> Path:
    """``seconds`` of the synthesised demo loop as a WAV file: real music-like audio."""
    blocks = [chunk.samples for chunk in DemoSource(realtime=False, seconds=seconds)]
    sf.write(path, np.concatenate(blocks), RATE)
    return path


@pytest.fixture(scope="session")
def music_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_loop(tmp_path_factory.mktemp("audio") / "loop.wav", MUSIC_SECONDS)


@pytest.fixture(scope="session")
def short_music_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_loop(tmp_path_factory.mktemp("audio") / "short.wav", SHORT_SECONDS)


@pytest.fixture
def make_feed(genre_model: GenreModel, music_file: Path) -> Callable[..., Feed]:
    """``make_feed(realtime, gate=None)``: a fresh engine over the music file; with a
    ``gate`` (threading.Event) the first update waits until the test opens it, so every
    client can be connected before the stream starts."""

    def make(realtime: bool, gate: threading.Event | None = None) -> Feed:
        engine = GenreEngine(genre_model, EngineConfig())
        source = FileSource(music_file, realtime=realtime)
        updates = engine.run(source)
        if gate is not None:
            updates = _gated(updates, gate)
        return Feed(engine, updates, source.name)

    return make


def _gated(updates: Iterator[GenreUpdate], gate: threading.Event) -> Iterator[GenreUpdate]:
    gate.wait()
    yield from updates
