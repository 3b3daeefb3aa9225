"""Shared fixtures: a real exported model (random weights), real audio, and a private
PulseAudio daemon to capture from (see pulse.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from radio_server import encode_mp3, hls_segments

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.model.genre.card import ModelCard
from genrescope.model.genre.crnn import CRNNConfig, GenreCRNN
from genrescope.model.genre.export import export_genre_model
from genrescope.stream.sources.demo import RATE, DemoSource
from genrescope.training.genre.fma import GENRES
from pulse import PulseServer, serving_this_process, start_pulse, unavailable
from support import MUSIC_DIR


@pytest.fixture(scope="session", autouse=True)
def private_tag_store(tmp_path_factory) -> Iterator[Path]:
    """`genrescope tag` in any test (and its subprocesses) writes here by default, never
    into the user's data folder."""
    path = tmp_path_factory.mktemp("tag-store") / "tags.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENRESCOPE_TAG_DB", str(path))
        yield path


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


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """A running daemon whose null sink ``virt`` is the default source's sink, with
    this process's PortAudio seeing it."""
    from genrescope.stream.sources.capture import list_input_devices

    server = start_pulse(tmp_path_factory.mktemp("pulse"))
    try:
        with serving_this_process(server):
            names = {device.name for device in list_input_devices()}
            if "pulse" not in names:
                unavailable(f"PortAudio sees no 'pulse' input (only {sorted(names)}); is libasound2-plugins installed?")
            yield server
    finally:
        server.stop()


@pytest.fixture
def doomed_pulse(pulse: PulseServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """A second private daemon for a test to kill; this process uses it meanwhile."""
    server = start_pulse(tmp_path_factory.mktemp("doomed"))
    try:
        with serving_this_process(server):
            yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def station_audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """The demo loop (60 s of synthesised music) as CBR MP3 and as HLS segments."""
    folder = tmp_path_factory.mktemp("station")
    wav = folder / "loop.wav"
    sf.write(wav, np.concatenate([chunk.samples for chunk in DemoSource(realtime=False, seconds=60)]), RATE)
    segments = folder / "segments"
    segments.mkdir()
    return encode_mp3(wav, folder / "loop.mp3"), hls_segments(wav, segments)
