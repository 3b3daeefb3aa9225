"""Both FMA sources land in one feature space; crops look like what the engine feeds."""

import csv

import numpy as np
import pytest

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.training.genre.augment import crop_columns, crop_seconds, training_batch, window_db
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.fma import (
    GENRES,
    FeatureSet,
    load_fma_audio,
    read_fma_tracks,
    read_thumbnail,
    training_tracks,
)
from genrescope.training.genre.thumbnail import index_to_db
from support import DATA_ROOT, write_tone

SPEC = FrontendSpec()


def write_fma_archive(root, tracks):
    """A miniature FMA download: fma_metadata/tracks.csv (FMA's multi-row header) + MP3s."""
    (root / "fma_metadata").mkdir(parents=True)
    with open(root / "fma_metadata" / "tracks.csv", "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["", "album", "artist", "set", "set", "track", "track"])
        out.writerow(["", "title", "id", "split", "subset", "genre_top", "title"])
        out.writerow(["track_id", "", "", "", "", "", ""])
        for track_id, split, subset, genre in tracks:
            out.writerow([track_id, "An Album", 100 + track_id % 2, split, subset, genre, "A Title"])
    for track_id, *_ in tracks:
        folder = root / "fma_small" / f"{track_id // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        write_tone(folder / f"{track_id:06d}.mp3", 4.0, rate=44_100, frequency=200.0 + track_id)


def test_fma_tracks_csv_with_its_two_row_header(tmp_path):
    write_fma_archive(
        tmp_path,
        [(2, "training", "small", "Hip-Hop"), (3, "test", "medium", "Rock"), (5, "validation", "small", "Blues")],
    )
    tracks = read_fma_tracks(tmp_path / "fma_metadata" / "tracks.csv", subset="small")
    assert [(t.track_id, t.split, t.genre, t.artist) for t in tracks] == [
        (2, "training", "Hip-Hop", "100")
    ]  # Blues: not top-8


def test_user_download_is_rendered_like_the_thumbnails(tmp_path):
    write_fma_archive(tmp_path, [(2, "training", "small", "Hip-Hop"), (1042, "test", "small", "Folk")])
    (tmp_path / "fma_small" / "001" / "001042.mp3").write_bytes(b"broken")  # FMA has broken files too
    features = load_fma_audio(tmp_path, cache=tmp_path / "cache.npz")
    assert features.track_ids.tolist() == [2] and features.artists.tolist() == ["100"]
    assert features.images.shape == (1, 128, 128) and features.images.dtype == np.uint8
    assert features.labels.tolist() == [GENRES.index("Hip-Hop")]
    assert features.images.max() == 255  # referenced to its own maximum, like the thumbnails
    assert (tmp_path / "cache.npz").exists()


def test_shared_thumbnails_are_read_low_mel_first():
    path = DATA_ROOT / "fma_small" / "thumbnails" / "Rock" / "000182.png"
    if not path.exists():
        pytest.skip(f"shared thumbnails not present at {path.parent}")
    image = read_thumbnail(path)
    assert image.shape == (128, 128)
    # Music has more energy in low mel bands than in the top ones.
    assert image[:, :16].mean() > image[:, -16:].mean()


def test_crops_are_referenced_and_floored_like_the_engine():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 200, size=(4, 128, 128), dtype=np.uint8)
    images[:, :, :10] = 0  # floor pixels
    crops = window_db(images, np.array([0, 10, 50, 100]), 20, SPEC.floor_db, rng)
    assert crops.shape == (4, 20, 128)
    np.testing.assert_allclose(crops.max(axis=(1, 2)), 0.0)
    assert crops.min() >= SPEC.floor_db and (crops[:, :, :10] == SPEC.floor_db).all()


def test_index_to_db_maps_bins_to_levels():
    levels = index_to_db(np.array([0, 128, 255]), -80.0)
    np.testing.assert_allclose(levels, [-80.0, -80.0 * (1 - 128.5 / 256), -80.0 * (1 - 255.5 / 256)])


def test_training_batches_have_crop_lengths_in_range():
    rng = np.random.default_rng(1)
    config = TrainConfig()
    images = rng.integers(0, 256, size=(8, 128, 128), dtype=np.uint8)
    labels = rng.integers(0, 8, size=8)
    for _ in range(5):
        length = crop_columns(crop_seconds(config, rng), SPEC.column_seconds, images.shape[1])
        x, y, _ = training_batch(images, labels, config, length, SPEC.floor_db, 8, rng)
        assert 13 <= x.shape[1] <= 128 and x.shape[2] == 128
        np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-5)


def test_artist_sample_keeps_a_share_of_each_genres_artists_with_all_their_tracks():
    # 8 genres × 10 artists × 3 tracks; one prolific artist per genre holds 6 more.
    labels, artists = [], []
    for genre in range(len(GENRES)):
        for artist in range(10):
            tracks = 9 if artist == 0 else 3
            labels += [genre] * tracks
            artists += [f"{genre}-{artist}"] * tracks
    n = len(labels)
    data = FeatureSet(
        images=np.zeros((n, 2, 2), np.uint8),
        labels=np.array(labels),
        splits=np.full(n, "training"),
        track_ids=np.arange(n),
        artists=np.array(artists),
    )
    half = data.artist_sample(0.5, seed=0)
    for genre in range(len(GENRES)):
        assert len(np.unique(half.artists[half.labels == genre])) == 5
    for artist in np.unique(half.artists):
        assert (half.artists == artist).sum() == (data.artists == artist).sum()  # all its tracks, or none
    assert np.array_equal(half.track_ids, data.artist_sample(0.5, seed=0).track_ids)  # seeded
    with pytest.raises(ValueError, match="share of artists"):
        data.artist_sample(1.5, seed=0)


def test_a_run_trains_on_all_training_tracks_or_a_checked_share():
    n = 6
    data = FeatureSet(
        images=np.zeros((n, 2, 2), np.uint8),
        labels=np.zeros(n, np.int64),
        splits=np.array(["training"] * 4 + ["validation"] * 2),
        track_ids=np.arange(n),
        artists=np.array(["a", "b", "c", "d", "e", "f"]),
    )
    assert len(training_tracks(data, TrainConfig()).labels) == 4
    assert len(training_tracks(data, TrainConfig(training_artists=0.5)).labels) == 2
    with pytest.raises(ValueError, match="training_artists must be a number > 0 and ≤ 1"):
        TrainConfig(training_artists=25)  # a percentage typed by mistake, refused with the config
    mistyped = TrainConfig()
    mistyped.training_artists = 25  # set after construction, as flags are: the sample still refuses it
    with pytest.raises(ValueError, match="share of artists"):
        training_tracks(data, mistyped)
