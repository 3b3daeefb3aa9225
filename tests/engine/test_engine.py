"""The streaming engine on synthetic and real decoded audio."""

import subprocess
import sys

import numpy as np
import pytest

from genrescope.model.session import GenreModel
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.filesource import FileSource

RATE = 44_100


@pytest.fixture(scope="module")
def model(test_model_path):
    return GenreModel.load(test_model_path)


def chunks(audio: np.ndarray, rate: int, block: int):
    for i in range(0, len(audio), block):
        yield AudioChunk(audio[i : i + block], rate)


def music_like(seconds: float, rate: int = RATE, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t)) + 0.05 * rng.standard_normal(len(t))
    return np.repeat(signal.astype(np.float32)[:, None], channels, axis=1)


def test_one_update_per_column_from_the_first_second(model):
    engine = GenreEngine(model)
    updates = list(engine.run(chunks(music_like(10.0), RATE, 4410)))
    spec = model.card.frontend
    assert updates[0].time <= 1.2  # cold start: the first second is enough
    columns = [u.column for u in updates]
    assert columns == list(range(columns[0], columns[-1] + 1))
    assert len(updates) == pytest.approx(10.0 / spec.column_seconds - columns[0], abs=2)
    for update in updates:
        assert sum(update.probabilities) == pytest.approx(1.0, abs=1e-4)
        assert len(update.mel_column) == 128 and 0 <= min(update.mel_column) <= max(update.mel_column) <= 255
    assert updates[-1].stats.updates == len(updates)


def test_chunking_does_not_change_the_result(model):
    audio = music_like(6.0)
    runs = []
    for block in (100, 4410, 44_100):
        engine = GenreEngine(model)
        runs.append([u.probabilities for u in engine.run(chunks(audio, RATE, block))])
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-5)
    np.testing.assert_allclose(runs[0], runs[2], atol=1e-5)


def test_small_blocks_see_the_same_audio_as_large_ones(model):
    """A chirp changes every column, so a window taken from the wrong place shows: blocks
    far smaller than the gap between two columns must give the same mel columns."""
    t = np.arange(int(6.0 * RATE)) / RATE
    chirp = (0.5 * np.sin(2 * np.pi * (200 * t + 600 * t**2))).astype(np.float32)[:, None]
    runs = [[u.mel_column for u in GenreEngine(model).run(chunks(chirp, RATE, block))] for block in (100, 44_100)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 48_000, 96_000, 192_000])
@pytest.mark.parametrize("channels", [1, 2, 8])
def test_any_rate_and_channel_count(model, rate, channels):
    engine = GenreEngine(model)
    updates = list(engine.run(chunks(music_like(3.0, rate, channels), rate, rate // 10)))
    spec = model.card.frontend
    assert len(updates) == pytest.approx(3.0 / spec.column_seconds - engine.min_columns + 1, abs=2)
    assert engine.summary().audio_seconds == pytest.approx(3.0, abs=0.01)


def test_nan_inf_and_silence(model):
    audio = music_like(3.0)
    audio[1000:1100] = np.nan
    audio[5000] = np.inf
    audio[RATE : 2 * RATE] = 0.0
    engine = GenreEngine(model)
    updates = list(engine.run(chunks(audio, RATE, 4410)))
    assert updates and all(np.isfinite(u.probabilities).all() for u in updates)
    assert engine.summary().nonfinite_samples == 101

    silent = GenreEngine(model)
    updates = list(silent.run(chunks(np.zeros((RATE * 2, 1), np.float32), RATE, 4410)))
    assert updates and all(np.isfinite(u.probabilities).all() for u in updates)


def test_stream_shorter_than_first_update(model):
    engine = GenreEngine(model)
    assert list(engine.run(chunks(music_like(0.3), RATE, 4410))) == []
    assert list(engine.run([])) == []


def test_smoothing_follows_a_change(model):
    """With smoothing the output moves gradually; without it, it equals the raw window."""
    engine = GenreEngine(model, EngineConfig(smoothing_seconds=0))
    for update in engine.run(chunks(music_like(4.0), RATE, 4410)):
        assert update.probabilities == update.raw_probabilities
    smooth = list(GenreEngine(model, EngineConfig(smoothing_seconds=5)).run(chunks(music_like(4.0), RATE, 4410)))
    raw_steps = np.abs(np.diff([u.raw_probabilities for u in smooth], axis=0)).max()
    smooth_steps = np.abs(np.diff([u.probabilities for u in smooth], axis=0)).max()
    assert smooth_steps < raw_steps


def test_dropped_frames_are_reported(model):
    engine = GenreEngine(model)
    audio = music_like(2.0)
    updates = list(engine.run([AudioChunk(audio[:RATE], RATE), AudioChunk(audio[RATE:], RATE, dropped_frames=512)]))
    assert engine.summary().dropped_frames == 512
    # The protocol names the unit (frames) and keeps v1's first name for existing clients.
    stats = updates[-1].to_message()["stats"]
    assert stats["dropped_frames"] == stats["dropped_samples"] == 512
    totals = engine.summary().to_dict()
    assert totals["dropped_frames"] == totals["dropped_samples"] == 512
    assert engine.summary().updates == len(updates) and "dropped frames: 512" in engine.summary().text()


def test_real_decoded_files(model, music_clips):
    for clip in music_clips:
        engine = GenreEngine(model)
        updates = list(engine.run(FileSource(clip)))
        summary = engine.summary()
        assert summary.audio_seconds > 25
        assert len(updates) == pytest.approx(summary.audio_seconds / model.card.frontend.column_seconds, abs=6)
        assert updates[-1].context_seconds == pytest.approx(min(30.0, summary.audio_seconds), abs=0.5)


@pytest.mark.parametrize("threshold", [0.0, 0.4, 1.01])
def test_an_update_says_it_is_unsure_below_the_confidence_threshold(model, threshold):
    engine = GenreEngine(model, EngineConfig(unsure_below=threshold))
    updates = list(engine.run(chunks(music_like(4.0), RATE, 4410)))
    assert updates
    for update in updates:
        assert update.uncertain == (max(update.probabilities) < threshold)
        assert update.to_message()["uncertain"] == update.uncertain
    if threshold == 0.0:
        assert not any(u.uncertain for u in updates)
    if threshold > 1:
        assert all(u.uncertain for u in updates)


def test_a_model_on_the_cpu_never_imports_torch():
    """Where torch is installed (the training extra) but onnxruntime runs on the CPU,
    neither the session's GPU check nor the frontend's 'auto' device imports torch: it
    cost every process ≈0.9 s and ≈500 MB."""
    code = (
        "import sys\n"
        "from genrescope.stream.tag.batch_tagger import load_batch_tagger\n"
        "from genrescope.stream.engine.engine import load_engine\n"
        "engine = load_engine(None)\n"
        "load_batch_tagger(None, prefer_gpu=True)\n"
        "print(engine.provider, 'torch' in sys.modules)\n"
    )
    provider, imported = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    if provider == "CUDAExecutionProvider":
        pytest.skip("the model runs on CUDA here, where the GPU frontend does need torch")
    assert imported == "False"
