"""Does the batched tagger agree with the per-update mean? Top genre, file by file.

Two kinds of "whole files", each through both estimates with the shipped model:

* the real MP3 clips of ../shared/data/music: the real per-update path (the file
  streamed through the live engine, ``library.tag_file``) against the real batched
  path (``BatchTagger.tag``), decoding included;
* the FMA-small thumbnails of the validation split (the clips themselves are not on
  this machine, only their 128 × 128 dB images): each image decoded to dB with
  ``training.thumbnail.index_to_db`` and taken as the columns of a 30 s file. The
  batched estimate is ``BatchTagger.probabilities`` of those columns; the per-update
  estimate replays what the engine does after its frontend: for every column from the
  first update on, the context ending there (up to 128 columns) re-referenced to its
  maximum, one model run, the mean of the calibrated probabilities. That replay is
  checked against the real engine on the real clips (``replay_max_abs_diff``).

* long files: 4-minute "medleys", eight validation thumbnails of one genre end to end,
  where the ramp-up is an eighth of what it is on one clip.

Also reported: top-1 accuracy of each estimate against the validation labels (the
thumbnails are 30 s, so the per-update mean there is mostly ramp-up: contexts of 1 to
30 s, the batched one is the whole clip).

    python bench/tag_agreement.py [--limit N] [--json bench/tag-agreement.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, save
from genrescope.stream.sources.audio_file import decode_blocks
from genrescope.stream.tag.batch_tagger import BatchTagger, file_columns, load_batch_tagger
from genrescope.stream.tag.library import tag_file, tagging_engine
from genrescope.training.genre.config import DEFAULT_DATA_ROOT


def per_update_mean(tagger: BatchTagger, columns_db: np.ndarray) -> np.ndarray:
    """The engine's mean of raw update probabilities, replayed on precomputed columns."""
    spec, model = tagger.spec, tagger.model
    runs = []
    for end in range(tagger.min_columns, len(columns_db) + 1):
        context = columns_db[max(0, end - spec.context_columns) : end]
        relative = np.maximum(context - context.max(), spec.floor_db)
        runs.append(model.probabilities(relative[None])[0])
    return np.mean(runs, axis=0)


def real_clips(tagger: BatchTagger, clips: list[Path]) -> dict:
    engine = tagging_engine(None, cpu=True)
    rows, replay_diff = [], 0.0
    for clip in clips:
        streamed, batched = tag_file(engine, clip), tagger.tag(clip)
        replay = per_update_mean(tagger, file_columns(tagger.frontend, decode_blocks(clip))[0])
        replay_diff = max(replay_diff, float(np.abs(replay - list(streamed.probabilities.values())).max()))
        difference = np.subtract(list(streamed.probabilities.values()), list(batched.probabilities.values()))
        rows.append(
            {
                "file": clip.name,
                "seconds": round(batched.audio_seconds, 1),
                "per_update": streamed.genre,
                "batched": batched.genre,
                "max_abs_probability_diff": float(np.abs(difference).max()),
            }
        )
    return {
        "files": rows,
        "agreement": float(np.mean([r["per_update"] == r["batched"] for r in rows])),
        "replay_max_abs_diff": replay_diff,
    }


def validation_columns(tagger: BatchTagger, data_root: Path, limit: int | None) -> tuple[list[np.ndarray], np.ndarray]:
    """The validation thumbnails as dB columns, and their genre indices."""
    from genrescope.training.genre.fma import GENRES, read_small_split, read_thumbnail, thumbnail_path
    from genrescope.training.genre.thumbnail import index_to_db

    fma = data_root / "fma_small"
    tracks = [t for t in read_small_split(fma / "tracks_small.csv") if t.split == "validation"][:limit]
    if list(tagger.labels) != list(GENRES):
        raise SystemExit("the model's labels are not the FMA-small genres")
    columns = [index_to_db(read_thumbnail(thumbnail_path(fma, track)), tagger.spec.floor_db) for track in tracks]
    return columns, np.array([GENRES.index(track.genre) for track in tracks])


def compare(tagger: BatchTagger, files: list[np.ndarray], truth: np.ndarray) -> dict:
    """Top genre of both estimates on each file's columns: agreement, and accuracy of each."""
    per_update = np.array([per_update_mean(tagger, columns).argmax() for columns in files])
    batched = np.array([tagger.probabilities(columns).argmax() for columns in files])
    return {
        "files": len(files),
        "agreement": float(np.mean(per_update == batched)),
        "accuracy_per_update": float(np.mean(per_update == truth)),
        "accuracy_batched": float(np.mean(batched == truth)),
    }


def medleys(columns: list[np.ndarray], truth: np.ndarray, clips: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Long files of one genre: ``clips`` validation clips of that genre end to end (in
    split order), so the ramp-up weighs as little as in a song of that length."""
    files, genres = [], []
    for genre in np.unique(truth):
        members = np.flatnonzero(truth == genre)
        for first in range(0, len(members) - clips + 1, clips):
            files.append(np.concatenate([columns[i] for i in members[first : first + clips]]))
            genres.append(genre)
    return files, np.array(genres)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--limit", type=int, default=None, help="first N validation thumbnails only")
    parser.add_argument("--medley-clips", type=int, default=8, help="clips per long file (8: 4 minutes)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    tagger = load_batch_tagger()
    columns, truth = validation_columns(tagger, args.data_root, args.limit)
    save(
        {
            "machine": machine(),
            "model_version": tagger.model_version,
            "window": {"columns": tagger.spec.context_columns, "hop_columns": tagger.plan.hop},
            "real_clips": real_clips(tagger, sorted((args.data_root / "music").glob("*.mp3"))),
            "fma_thumbnails": {"split": "validation", **compare(tagger, columns, truth)},
            "fma_medleys": {
                "clips_per_file": args.medley_clips,
                "seconds_per_file": round(args.medley_clips * 30.0),
                **compare(tagger, *medleys(columns, truth, args.medley_clips)),
            },
        },
        args.json,
    )


if __name__ == "__main__":
    main()
