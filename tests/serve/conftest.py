"""Fixtures for the server tests: the real engine on a real model and real audio."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import fastjsonschema
import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import ClientConnection

from genrescope.model.session import GenreModel
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.serve.protocol_schema import schema_for
from genrescope.stream.sources.demo import RATE, DemoSource
from genrescope.stream.sources.filesource import FileSource
from harness import Feed

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


@pytest.fixture(autouse=True)
def every_message_follows_the_protocol(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text message any real websocket client receives in these tests is checked
    against the protocol's schema (stream/protocol_schema.py), whichever server sent it."""
    received = ClientConnection.recv
    checked: list[str] = []  # the types of the messages checked
    validators: dict[tuple[int, str], Callable] = {}  # compiled once (≈0.2 ms a message: 100 clients keep up)

    async def recv(self: ClientConnection, *args, **kwargs):
        data = await received(self, *args, **kwargs)
        if isinstance(data, str):
            message = json.loads(data)
            key = (message["v"], message["type"])
            if key not in validators:
                validators[key] = fastjsonschema.compile(schema_for(message))
            validators[key](message)
            checked.append(message["type"])
        return data

    monkeypatch.setattr(ClientConnection, "recv", recv)
    yield checked
