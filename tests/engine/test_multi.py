"""The batch scheduler on a real exported model and real audio: batched equals one
engine per stream, every stream's updates arrive complete and in order, silence is
marked, and named sources parse (or fail in one sentence)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrescope.model.session import GenreModel
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.engine.multi import BatchScheduler, StreamEnd, StreamStatus, StreamUpdate
from genrescope.stream.engine.silence import SILENCE_SECONDS
from genrescope.stream.sources.demo import RATE, DemoSource
from genrescope.stream.sources.factory import (
    NamedSource,
    SourceSpecError,
    check_unique,
    load_sources_file,
    open_named,
    parse_source_option,
)
from genrescope.stream.sources.filesource import FileSource
from genrescope.stream.sources.spec import SourceSpec

PATIENCE_SECONDS = 300.0  # guards against a hang on a loaded machine, never a measurement


@pytest.fixture(scope="module")
def model(test_model_path: Path) -> GenreModel:
    return GenreModel.load(test_model_path, threads=1, prefer_gpu=False)


def _demo(seconds: float) -> np.ndarray:
    return np.concatenate([chunk.samples for chunk in DemoSource(realtime=False, seconds=seconds)])


def _run(model: GenreModel, files: dict[str, Path], **options) -> tuple[list, BatchScheduler]:
    events: list = []
    lock = threading.Lock()

    def sink(event) -> None:
        with lock:
            events.append(event)

    sources = [(name, FileSource(path)) for name, path in files.items()]
    scheduler = BatchScheduler(model, sources, [sink], EngineConfig(), **options)
    scheduler.start()
    assert scheduler.wait(PATIENCE_SECONDS)
    return events, scheduler


@pytest.mark.parametrize("max_batch", [2, 8])  # 2: batches fill and leave mid-tick, out of arrival order
def test_batched_streams_equal_one_engine_each(
    model: GenreModel, music_clips: list[Path], tmp_path: Path, max_batch: int
) -> None:
    demo = tmp_path / "demo.wav"
    sf.write(demo, _demo(20.0), RATE)
    files = {"clip0": music_clips[0], "clip1": music_clips[1], "demo": demo, "clip0-again": music_clips[0]}
    events, scheduler = _run(model, files, max_batch=max_batch)
    # contexts of several streams shared a model call (with 2, a batch filled and left mid-tick)
    assert scheduler.batch_sizes.largest == 2 if max_batch == 2 else scheduler.batch_sizes.largest > 1
    for name, path in files.items():
        alone = list(GenreEngine(model, EngineConfig()).run(FileSource(path)))
        batched = [e.update for e in events if isinstance(e, StreamUpdate) and e.stream == name]
        assert [u.column for u in batched] == [u.column for u in alone]  # every column, in order
        np.testing.assert_allclose([u.probabilities for u in batched], [u.probabilities for u in alone], atol=1e-5)
        # one FFT and chroma over every stream's new columns give each stream its own
        np.testing.assert_allclose([u.chroma for u in batched], [u.chroma for u in alone], atol=1e-9)
        assert [u.key.tag for u in batched] == [u.key.tag for u in alone]
        np.testing.assert_allclose([u.mel_column for u in batched], [u.mel_column for u in alone], atol=1)
        ends = [e for e in events if isinstance(e, StreamEnd) and e.stream == name]
        assert len(ends) == 1 and ends[0].summary.updates == len(alone) and ends[0].error is None


def test_silence_is_marked_after_the_hold_time(model: GenreModel, tmp_path: Path) -> None:
    quiet_seconds = SILENCE_SECONDS + 4.0
    audio = np.concatenate([_demo(6.0), np.full((int(quiet_seconds * RATE), 1), 1e-4, np.float32), _demo(6.0)])
    path = tmp_path / "pause.wav"
    sf.write(path, audio, RATE)
    events, _ = _run(model, {"room": path})
    updates = [e for e in events if isinstance(e, StreamUpdate)]
    silent = [e.update.time for e in updates if e.state == "silence"]
    assert silent, "no update was marked silent"
    # Marked only after the hold time into the pause, and no longer once music is back.
    assert min(silent) >= 6.0 + SILENCE_SECONDS - 0.3 and max(silent) <= 6.0 + quiet_seconds + 0.3
    assert updates[-1].state == "live"
    states = [e.state for e in events if isinstance(e, StreamStatus)]
    assert states == ["live", "silence", "live"]


def test_a_failing_source_ends_only_its_own_stream(model: GenreModel, music_clips: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(music_clips[0].read_bytes()[:4000] + b"\x00garbage" * 10)
    events, _ = _run(model, {"good": music_clips[1], "broken": broken})
    good = [e for e in events if isinstance(e, StreamUpdate) and e.stream == "good"]
    assert [e.update.column for e in good] == list(range(good[0].update.column, good[-1].update.column + 1))
    assert {e.stream for e in events if isinstance(e, StreamEnd)} == {"good", "broken"}


def test_source_options_and_files_parse(tmp_path: Path) -> None:
    assert parse_source_option("radio1=https://x.example/a.mp3") == NamedSource(
        "radio1", SourceSpec("network", "https://x.example/a.mp3")
    )
    assert parse_source_option("jingles=loop:a b.mp3") == NamedSource("jingles", SourceSpec("file", "a b.mp3", True))
    assert parse_source_option("room=mic:USB").kind == "mic"
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[stream]]\nname = "a"\nsource = "demo"\n\n[[stream]]\nname = "b"\nsource = "songs/x.mp3"\nloop = true\n'
    )
    assert load_sources_file(sources) == [
        NamedSource("a", SourceSpec("demo")),
        NamedSource("b", SourceSpec("file", str(tmp_path / "songs/x.mp3"), True)),
    ]


@pytest.mark.parametrize(
    "option, message",
    [
        ("demo", "NAME=SPEC"),
        ("a b=demo", "stream name"),
        ("x=loop:demo", "loop applies to files"),
    ],
)
def test_bad_source_options_say_what_to_write(option: str, message: str) -> None:
    with pytest.raises(SourceSpecError, match=message):
        parse_source_option(option)


def test_stream_names_must_be_unique() -> None:
    with pytest.raises(SourceSpecError, match="two streams are named 'a'"):
        check_unique([NamedSource("a", SourceSpec("demo")), NamedSource("a", SourceSpec("mic"))])


def test_a_radio_stream_gets_the_stall_time_it_is_given() -> None:
    """``serve --stall-seconds`` reaches each network stream (the stall itself is tested
    against a real Icecast server in tests/serve/test_radio.py)."""
    source, _ = open_named(parse_source_option("radio=http://127.0.0.1:9/live"), stall_seconds=2.5)
    assert source.stall_seconds == 2.5
