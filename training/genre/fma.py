"""FMA-small with its official split, from either of two sources, in one feature space.

1. ``thumbnails``: the shared 128×128 log-mel images (``tracks_small.csv`` +
   ``thumbnails/<genre>/<id>.png``), decoded to colour indices.
2. ``audio``: a user's own FMA download (``fma_metadata/tracks.csv`` with its
   multi-row header and ``set.split``, MP3s under ``fma_small/NNN/NNNNNN.mp3``),
   decoded and rendered with the project's frontend into the same indices.

Both end as a ``FeatureSet``: uint8 [tracks, 128 columns, 128 mels] (low mel first),
cached as .npz so later runs start in a second.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image

from genrescope.model.frontend.frontend import MelFrontend
from genrescope.model.frontend.spec import THUMBNAIL_SECONDS, FrontendSpec
from genrescope.stream.outputs import written_whole
from genrescope.training.genre.config import TrainConfig

log = logging.getLogger(__name__)

GENRES = ("Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental", "International", "Pop", "Rock")
SPLITS = ("training", "validation", "test")


@dataclass(frozen=True)
class Track:
    track_id: int
    genre: str
    split: str
    # Who made it: the official split keeps each artist on one side, and a few artists
    # hold many tracks, so evaluation resamples artists, not tracks, for its intervals.
    artist: str


def artist_key(artist_id: str, track_id: int) -> str:
    """The artist id, or the track's own key where the metadata has none (90 shared rows)."""
    return artist_id or f"track-{track_id}"


@dataclass
class FeatureSet:
    """Thumbnail indices with labels and the official split of every track."""

    images: np.ndarray  # uint8 [N, columns, mels]
    labels: np.ndarray  # int64 [N], index into GENRES
    splits: np.ndarray  # str [N]
    track_ids: np.ndarray  # int64 [N]
    artists: np.ndarray  # str [N]

    def subset(self, split: str) -> FeatureSet:
        return self.rows(self.splits == split)

    def artist_sample(self, share: float, seed: int) -> FeatureSet:
        """The tracks of a seeded ``share`` of each genre's artists, all of an artist's tracks
        in that genre, so that a learning curve measures what more *artists* buy (the axis
        the split is cut on). Sampled genre by genre to keep the genres balanced: the few
        artists with tracks in two genres may be kept in one and not the other."""
        if not 0 < share <= 1:
            raise ValueError(f"the share of artists must be in (0, 1], not {share}")
        rng = np.random.default_rng(seed)
        keep = np.zeros(len(self.labels), bool)
        for genre in np.unique(self.labels):
            artists = np.unique(self.artists[self.labels == genre])
            chosen = rng.choice(artists, max(1, round(share * len(artists))), replace=False)
            keep |= (self.labels == genre) & np.isin(self.artists, chosen)
        return self.rows(keep)

    def rows(self, keep: np.ndarray) -> FeatureSet:
        """The rows where the boolean mask ``keep`` is true."""
        return FeatureSet(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with written_whole(path, "wb") as out:
            np.savez(out, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> FeatureSet | None:
        """The cached set, or None when an older version wrote the cache (then rebuild it)."""
        names = [f.name for f in fields(cls)]
        with np.load(path) as data:
            if set(data.files) != set(names):
                log.info("%s lacks %s: rebuilding it", path, sorted(set(names) - set(data.files)))
                return None
            return cls(**{name: data[name] for name in names})


def load_features(config: TrainConfig) -> FeatureSet:
    """The feature set of a config's data source, cached in its ``cache_dir``."""
    if config.source == "thumbnails":
        root = Path(config.data_root) / "fma_small"
        return load_thumbnails(root, cache_path(config.cache_dir, "fma_small_thumbnails", root))
    if config.source == "audio":
        root = Path(config.fma_audio_root)
        return load_fma_audio(root, cache_path(config.cache_dir, "fma_audio_thumbnails", root))
    raise ValueError(f"unknown source {config.source!r}: use 'thumbnails' or 'audio'")


def load_features_once(config: TrainConfig, loaded: dict[tuple, FeatureSet]) -> FeatureSet:
    """``load_features``, kept in ``loaded`` under what it reads: scripts that look at many
    runs of one data set (compare, learning_curve) load its cache once, not once per run."""
    key = (config.source, config.data_root, config.fma_audio_root, config.cache_dir)
    if key not in loaded:
        loaded[key] = load_features(config)
    return loaded[key]


def training_tracks(features: FeatureSet, config: TrainConfig) -> FeatureSet:
    """The tracks a run learns from: its ``training_artists`` share (1 = all) of the training
    split, and of validation too with ``include_validation``."""
    return features.rows(np.isin(features.splits, config.learned_splits)).artist_sample(
        config.training_artists, config.seed
    )


def cache_path(cache_dir: Path, name: str, root: Path) -> Path:
    """One cache file per data folder, so a cache of one download is never read for another."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    return cache_dir / f"{name}-{digest}.npz"


def read_small_split(csv_path: Path) -> list[Track]:
    """Tracks of the shared ``tracks_small.csv`` (one header row)."""
    with open(csv_path, newline="") as handle:
        return [
            Track(int(r["track_id"]), r["genre_top"], r["split"], artist_key(r["artist_id"], int(r["track_id"])))
            for r in csv.DictReader(handle)
        ]


def read_fma_tracks(csv_path: Path, subset: str = "small") -> list[Track]:
    """Tracks of FMA's own ``tracks.csv`` in ``subset`` (and the smaller subsets it includes).

    That file has two header rows (group, field) and a third naming the index; fields
    are addressed here as ``group.field``, e.g. ``set.split``, ``track.genre_top``.
    """
    order = ("small", "medium", "large", "full")
    wanted = set(order[: order.index(subset) + 1])
    with open(csv_path, newline="") as handle:
        rows = csv.reader(handle)
        groups, names = next(rows), next(rows)
        columns = {f"{g}.{n}": i for i, (g, n) in enumerate(zip(groups, names, strict=True))}
        tracks = []
        for row in rows:
            if not row or not row[0].isdigit():
                continue  # the "track_id" index-name row
            genre = row[columns["track.genre_top"]]
            if row[columns["set.subset"]] in wanted and genre in GENRES:
                artist = artist_key(row[columns["artist.id"]], int(row[0]))
                tracks.append(Track(int(row[0]), genre, row[columns["set.split"]], artist))
    return tracks


def thumbnail_path(root: Path, track: Track) -> Path:
    return root / "thumbnails" / track.genre / f"{track.track_id:06d}.png"


def read_thumbnail(path: Path) -> np.ndarray:
    """A thumbnail's colour indices as [columns, mels], low mel first.

    The PNGs are palette images whose pixel values are the viridis indices, with low
    frequencies at the bottom row.
    """
    image = Image.open(path)
    if image.mode != "P":
        raise ValueError(f"{path}: expected a palette PNG of colormap indices, got mode {image.mode}")
    return np.ascontiguousarray(np.asarray(image)[::-1].T)


def load_thumbnails(fma_root: Path, cache: Path | None = None) -> FeatureSet:
    """All tracks of ``tracks_small.csv`` with their thumbnails (cached)."""
    if (cached := _from_cache(cache)) is not None:
        return cached
    tracks = read_small_split(fma_root / "tracks_small.csv")
    images = np.stack([read_thumbnail(thumbnail_path(fma_root, t)) for t in _progress(tracks, "thumbnails")])
    features = _feature_set(tracks, images)
    if cache is not None:
        features.save(cache)
    return features


def load_fma_audio(audio_root: Path, cache: Path | None = None, subset: str = "small") -> FeatureSet:
    """A user's FMA download rendered into thumbnails by the project's frontend (cached).

    Tracks whose MP3 is missing or does not decode are skipped with a warning; FMA
    itself ships a handful of broken files.
    """
    from genrescope.stream.sources.audio_file import AudioFileError, read_audio
    from genrescope.training.genre.thumbnail import render_thumbnail

    if (cached := _from_cache(cache)) is not None:
        return cached
    frontend = MelFrontend(FrontendSpec())
    kept, images = [], []
    for track in _progress(read_fma_tracks(audio_root / "fma_metadata" / "tracks.csv", subset), "decoding"):
        path = audio_root / f"fma_{subset}" / f"{track.track_id // 1000:03d}" / f"{track.track_id:06d}.mp3"
        try:
            audio = read_audio(path, frontend.spec.sample_rate, max_seconds=THUMBNAIL_SECONDS)
        except AudioFileError as error:
            log.warning("skipping track %d: %s", track.track_id, error)
            continue
        kept.append(track)
        images.append(render_thumbnail(frontend, audio))
    if not kept:
        raise ValueError(f"no decodable tracks under {audio_root}")
    features = _feature_set(kept, np.stack(images))
    if cache is not None:
        features.save(cache)
    return features


def _from_cache(cache: Path | None) -> FeatureSet | None:
    return FeatureSet.load(cache) if cache is not None and cache.exists() else None


def _feature_set(tracks: list[Track], images: np.ndarray) -> FeatureSet:
    unknown = {t.split for t in tracks} - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split names {sorted(unknown)}")
    return FeatureSet(
        images=images,
        labels=np.array([GENRES.index(t.genre) for t in tracks], dtype=np.int64),
        splits=np.array([t.split for t in tracks]),
        track_ids=np.array([t.track_id for t in tracks], dtype=np.int64),
        artists=np.array([t.artist for t in tracks]),
    )


def _progress(items: list, description: str):
    from rich.progress import track as rich_track

    return rich_track(items, description=description, transient=True)
