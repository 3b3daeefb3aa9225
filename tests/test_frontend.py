"""The mel frontend against librosa, and the thumbnail recipe reproduced from real audio."""

import librosa
import numpy as np

from model.frontend import MelFrontend, count_columns, relative_db
from model.spec import FrontendSpec
from stream.audio_file import read_audio
from training.thumbnail import LEVELS, db_to_index, render_thumbnail

SPEC = FrontendSpec()


def librosa_thumbnail(audio: np.ndarray, sr: int) -> np.ndarray:
    """The recipe of ../shared/README.md, independently: librosa mel, dB re max, floor −80,
    one frame per pixel column, colour index over the data range."""
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=2048, hop_length=512, n_mels=128, power=2.0,
                                         fmin=0.0, fmax=sr / 2, htk=False, norm="slaney", center=True)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)  # [mels, frames]
    n_frames = db.shape[1]
    columns = np.floor((np.arange(128) + 0.5) * n_frames / 128).astype(int)
    image = db[:, columns]
    index = np.floor(256 * (image - db.min()) / (db.max() - db.min()))
    return np.clip(index, 0, 255).astype(np.uint8).T  # [columns, mels], low mel first


def test_mel_columns_match_librosa():
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(SPEC.sample_rate * 3)).astype(np.float32)
    ours = MelFrontend(SPEC, "cpu").all_columns_db(audio)
    mel = librosa.feature.melspectrogram(y=audio, sr=SPEC.sample_rate, n_fft=2048, hop_length=512, n_mels=128,
                                         power=2.0, center=True, pad_mode="constant")
    frames = [SPEC.column_frame(c) for c in range(len(ours))]
    reference = 10 * np.log10(np.maximum(mel[:, frames].T, 1e-10))
    assert len(ours) == count_columns(SPEC, len(audio)) == 13
    np.testing.assert_allclose(ours, reference, atol=1e-3)


def test_frontend_reproduces_the_thumbnails_from_real_audio(music_clips):
    """The streaming frontend, fed the original audio, yields what the thumbnails hold."""
    frontend = MelFrontend(SPEC, "cpu")
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
    columns = MelFrontend(SPEC, "cpu").all_columns_db(np.zeros(SPEC.sample_rate, dtype=np.float32))
    assert np.isfinite(columns).all()
