"""The batched tagger: whole windows that are exactly the engine's contexts, their mean,
and the per-update path it replaces agreeing with it on real audio."""

import numpy as np
import pytest
import soundfile as sf

from genrescope.model.frontend.pitch import chroma
from genrescope.stream.sources.audio_file import decode_blocks, read_audio
from genrescope.stream.sources.filesource import FileSource
from genrescope.stream.tag import batch_tagger
from genrescope.stream.tag.batch_tagger import WindowPlan, file_columns, load_batch_tagger, window_starts
from genrescope.stream.tag.library import tag_file, tagging_engine
from support import whole_audio_columns_db, whole_audio_columns_power


@pytest.fixture(scope="module")
def tagger(test_model_path):
    return load_batch_tagger(test_model_path)


def chirp_noise(path, seconds, rate=48_000):
    """Audio that changes over time, so that every window differs."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    signal = 0.3 * np.sin(2 * np.pi * (200 + 40 * t) * t) + 0.05 * rng.standard_normal(len(t)) * (t % 7 < 3)
    sf.write(path, np.stack([signal, signal * 0.5], axis=1).astype(np.float32), rate)
    return path


@pytest.mark.parametrize(
    "n, window, hop, expected",
    [
        (100, 128, 32, [0]),  # shorter than a window: one window of everything
        (128, 128, 32, [0]),
        (200, 128, 32, [0, 32, 64, 72]),  # the last window ends at the last column
        (192, 128, 32, [0, 32, 64]),
    ],
)
def test_windows_cover_every_column(n, window, hop, expected):
    assert window_starts(n, window, hop).tolist() == expected


def test_windows_are_the_engines_contexts(tagger, test_model_path, tmp_path):
    """The last window of a 40 s file is the context of the engine's last update: same
    columns, same re-referencing, same probabilities."""
    path = chirp_noise(tmp_path / "chirp.flac", 40.0)
    engine = tagging_engine(test_model_path, cpu=True)
    last = list(engine.run(FileSource(path)))[-1]
    columns = file_columns(tagger.frontend, decode_blocks(path))[0]
    assert len(columns) == last.column + 1 > tagger.spec.context_columns
    probabilities = tagger.probabilities(columns[-128:])  # one window: the last 30 s
    np.testing.assert_allclose(probabilities, last.raw_probabilities, atol=1e-4)


def test_columns_of_decoded_blocks_equal_those_of_the_whole_decoded_file(tagger, tmp_path, monkeypatch):
    """The tagger never holds a file's samples whole; its columns are still those of the
    whole file (48 kHz, resampled in blocks, across several FFT stacks)."""
    monkeypatch.setattr(batch_tagger, "COLUMN_CHUNK", 50)  # ≈320 columns: several stacks
    path = chirp_noise(tmp_path / "chirp.flac", 75.0)
    columns, pitch, seconds = file_columns(tagger.frontend, decode_blocks(path, 5.0))
    audio = read_audio(path, tagger.spec.sample_rate, block_seconds=5.0)
    assert seconds == len(audio) / tagger.spec.sample_rate
    np.testing.assert_allclose(columns, whole_audio_columns_db(tagger.frontend, audio), atol=1e-3)
    power = whole_audio_columns_power(tagger.frontend, audio)
    np.testing.assert_allclose(pitch, chroma(power, tagger.spec.sample_rate), atol=1e-9)


def test_estimate_is_the_mean_over_windows_in_batches(test_model_path, tmp_path):
    tagger = load_batch_tagger(test_model_path, WindowPlan(batch=3))
    path = chirp_noise(tmp_path / "chirp.wav", 75.0)
    columns = file_columns(tagger.frontend, decode_blocks(path))[0]
    starts = window_starts(len(columns), 128, tagger.plan.hop)
    assert len(starts) > tagger.plan.batch  # more than one onnxruntime call
    one_by_one = [
        tagger.model.probabilities(
            np.maximum(columns[s : s + 128] - columns[s : s + 128].max(), tagger.spec.floor_db)[None]
        )[0]
        for s in starts
    ]
    np.testing.assert_allclose(tagger.probabilities(columns), np.mean(one_by_one, axis=0), atol=1e-5)
    tags = tagger.tag(path)
    assert tags.audio_seconds == pytest.approx(75.0, abs=0.05)
    assert sum(tags.probabilities.values()) == pytest.approx(1.0, abs=1e-3)


def test_too_short_and_broken_files(tagger, tmp_path):
    blip = tmp_path / "blip.wav"
    sf.write(blip, np.zeros(4410, dtype=np.float32), 44_100)
    assert tagger.tag(blip).probabilities == {} and tagger.tag(blip).error is None
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3 not audio")
    assert "not an audio file" in tagger.tag(broken).error


def test_agrees_with_the_per_update_mean_on_real_music(music_clips):
    """The shipped model on the real clips: same top genre either way (see
    bench/tag_agreement.py for the rate over the FMA validation thumbnails)."""
    batched, engine = load_batch_tagger(), tagging_engine(None, cpu=True)
    for clip in music_clips:
        assert batched.tag(clip).genre == tag_file(engine, clip).genre
