"""The mel frontend against librosa, and the thumbnail recipe reproduced from real audio."""

import librosa
import numpy as np
import pytest

from genrescope.model.frontend.frontend import MelFrontend, mel_filterbank, relative_db
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.sources.audio_file import read_audio
from genrescope.training.genre.thumbnail import LEVELS, db_to_index, render_thumbnail
from support import count_columns, whole_audio_columns_db

SPEC = FrontendSpec()


def librosa_thumbnail(audio: np.ndarray, sr: int) -> np.ndarray:
    """The recipe of ../shared/README.md, independently: librosa mel, dB re max, floor −80,
    one frame per pixel column, colour index over the data range."""
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=sr,
        n_fft=2048,
        hop_length=512,
        n_mels=128,
        power=2.0,
        fmin=0.0,
        fmax=sr / 2,
        htk=False,
        norm="slaney",
        center=True,
    )
    db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)  # [mels, frames]
    n_frames = db.shape[1]
    columns = np.floor((np.arange(128) + 0.5) * n_frames / 128).astype(int)
    image = db[:, columns]
    index = np.floor(256 * (image - db.min()) / (db.max() - db.min()))
    return np.clip(index, 0, 255).astype(np.uint8).T  # [columns, mels], low mel first


def test_mel_columns_match_librosa():
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(SPEC.sample_rate * 3)).astype(np.float32)
    ours = whole_audio_columns_db(MelFrontend(SPEC), audio)
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=SPEC.sample_rate,
        n_fft=2048,
        hop_length=512,
        n_mels=128,
        power=2.0,
        center=True,
        pad_mode="constant",
    )
    frames = [SPEC.column_frame(c) for c in range(len(ours))]
    reference = 10 * np.log10(np.maximum(mel[:, frames].T, 1e-10))
    assert len(ours) == count_columns(SPEC, len(audio)) == 13
    np.testing.assert_allclose(ours, reference, atol=1e-3)


def test_frontend_reproduces_the_thumbnails_from_real_audio(music_clips):
    """The streaming frontend, fed the original audio, yields what the thumbnails hold."""
    frontend = MelFrontend(SPEC)
    shares = []
    for clip in music_clips:
        audio = read_audio(clip, SPEC.sample_rate, max_seconds=30.0)
        ours = render_thumbnail(frontend, audio)
        recipe = librosa_thumbnail(audio, SPEC.sample_rate)
        assert ours.shape == recipe.shape == (128, 128)
        shares.append(float((np.abs(ours.astype(int) - recipe.astype(int)) <= 2).mean()))
    print("share of pixels within ±2 levels:", [f"{s:.4f}" for s in shares])
    assert min(shares) >= 0.99


def test_relative_levels_are_referenced_and_floored():
    columns = np.array([[-10.0, -50.0], [-120.0, 0.0]], dtype=np.float32)
    rel = relative_db(columns, SPEC.floor_db)
    assert rel.max() == 0.0 and rel.min() == SPEC.floor_db
    assert db_to_index(np.array([SPEC.floor_db, 0.0]), SPEC.floor_db, 0.0).tolist() == [0, LEVELS - 1]


def test_silence_gives_finite_levels():
    columns = whole_audio_columns_db(MelFrontend(SPEC), np.zeros(SPEC.sample_rate, dtype=np.float32))
    assert np.isfinite(columns).all()


@pytest.mark.parametrize("scale,norm", [("slaney", "slaney"), ("slaney", "none"), ("htk", "slaney"), ("htk", "none")])
@pytest.mark.parametrize("sample_rate,f_max", [(44_100, 22_050.0), (16_000, 8_000.0), (22_050, 6_000.0)])
def test_mel_filterbank_matches_librosa(scale, norm, sample_rate, f_max):
    spec = FrontendSpec(sample_rate=sample_rate, f_max=f_max, mel_scale=scale, mel_norm=norm)
    reference = librosa.filters.mel(
        sr=sample_rate,
        n_fft=spec.n_fft,
        n_mels=spec.n_mels,
        fmin=spec.f_min,
        fmax=f_max,
        htk=scale == "htk",
        norm="slaney" if norm == "slaney" else None,
    )
    np.testing.assert_allclose(mel_filterbank(spec), reference.T, rtol=1e-4, atol=1e-7)


def synthetic_signals() -> dict[str, np.ndarray]:
    """A chirp with harmonics, white noise at two levels, clicks and near-silence."""
    rate, rng = SPEC.sample_rate, np.random.default_rng(3)
    t = np.arange(4 * rate) / rate
    chirp = sum(0.2 / k * np.sin(2 * np.pi * k * (100 * t + 400 * t**2)) for k in range(1, 6))
    clicks = np.zeros_like(t)
    clicks[:: rate // 7] = 0.9
    return {
        "chirp": chirp,
        "noise": 0.3 * rng.standard_normal(len(t)),
        "quiet-noise": 1e-4 * rng.standard_normal(len(t)),
        "clicks": clicks,
        "silence": np.zeros_like(t),
    }


torch_frontend = pytest.importorskip(
    "genrescope.model.frontend.frontend_torch", reason="the torch frontend needs [gpu] or [train]"
)


@pytest.mark.parametrize("name", sorted(synthetic_signals()))
def test_numpy_frontend_matches_the_torch_frontend_on_synthetic_audio(name):
    audio = synthetic_signals()[name].astype(np.float32)
    ours = MelFrontend(SPEC).hop_grid_db(audio)
    theirs = torch_frontend.TorchMelFrontend(SPEC, "cpu").hop_grid_db(audio)
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_numpy_frontend_matches_the_torch_frontend_on_real_audio(music_clips):
    for clip in music_clips:
        audio = read_audio(clip, SPEC.sample_rate, max_seconds=30.0)
        ours = MelFrontend(SPEC).hop_grid_db(audio)
        theirs = torch_frontend.TorchMelFrontend(SPEC, "cpu").hop_grid_db(audio)
        assert ours.shape == theirs.shape and len(ours) > 2000
        np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_both_frontends_give_the_same_probabilities_through_the_shipped_model(music_clips):
    from genrescope.model.session import GenreModel

    model = GenreModel.load()
    for clip in music_clips:
        audio = read_audio(clip, SPEC.sample_rate, max_seconds=30.0)
        contexts = [
            relative_db(whole_audio_columns_db(frontend, audio)[-SPEC.context_columns :], SPEC.floor_db)
            for frontend in (MelFrontend(SPEC), torch_frontend.TorchMelFrontend(SPEC, "cpu"))
        ]
        ours, theirs = (model.probabilities(c[None])[0] for c in contexts)
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
        assert ours.argmax() == theirs.argmax()
