"""``genrescope artists``: accuracy per test artist, old model beside new (docs/test_artists.png).

The official test split is 800 clips by ≈200 artists, and a handful of artists hold a
large share of it (two of them 147 clips). A change of a few points in test accuracy can
therefore be one prolific artist flipping rather than a broad gain; this figure shows
which. It reads the test split, so run it only after the model is chosen.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from genrescope.model.session import GenreModel
from genrescope.stream.outputs import save_figure, write_text_whole
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.evaluate import window_logits
from genrescope.training.genre.fma import FeatureSet, load_features

SHOWN_ARTISTS = 24  # the most prolific test artists get a bar each; the rest are pooled


def clip_correct(model: GenreModel, data: FeatureSet) -> np.ndarray:
    """Whether the model's whole-clip top genre is right, per clip."""
    logits, _ = window_logits(model, data.images, data.images.shape[1], 1)
    return logits.argmax(1) == data.labels


def per_artist(correct: np.ndarray, artists: np.ndarray) -> dict[str, dict]:
    """Clips and accuracy of each artist, most clips first."""
    names, index, counts = np.unique(artists, return_inverse=True, return_counts=True)
    hits = np.bincount(index, weights=correct.astype(float), minlength=len(names))
    order = np.argsort(-counts, kind="stable")
    return {str(names[i]): {"clips": int(counts[i]), "accuracy": round(float(hits[i] / counts[i]), 4)} for i in order}


def plot_artists(rows: dict[str, dict], labels: tuple[str, str], names: dict[str, str], path: Path) -> None:
    """Bars per prolific artist (old and new), the rest pooled in one last pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = list(rows)[:SHOWN_ARTISTS]
    rest = list(rows)[SHOWN_ARTISTS:]
    old = [rows[a]["old"] for a in shown]
    new = [rows[a]["new"] for a in shown]
    clips = [rows[a]["clips"] for a in shown]
    rest_clips = sum(rows[a]["clips"] for a in rest)
    old.append(sum(rows[a]["old"] * rows[a]["clips"] for a in rest) / max(rest_clips, 1))
    new.append(sum(rows[a]["new"] * rows[a]["clips"] for a in rest) / max(rest_clips, 1))
    clips.append(rest_clips)
    ticks = [f"{names.get(a, a)[:18]} ({n})" for a, n in zip(shown, clips, strict=True)] + [
        f"{len(rest)} others ({rest_clips})"
    ]
    x = np.arange(len(ticks))
    fig, ax = plt.subplots(figsize=(12, 5), dpi=110)
    ax.bar(x - 0.2, np.array(old) * 100, 0.4, label=labels[0], color="#9aa5b1")
    ax.bar(x + 0.2, np.array(new) * 100, 0.4, label=labels[1], color="#2a7ab0")
    ax.set_xticks(x, ticks, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("clip accuracy on the artist's test clips (%)")
    ax.set_ylim(0, 105)
    ax.set_title("FMA-small official test split: accuracy per artist (clips in brackets), most prolific first")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def run_artists(args: argparse.Namespace) -> int:
    data = load_features(TrainConfig(data_root=str(args.data_root))).subset("test")
    correct = {
        side: clip_correct(GenreModel.load(path, threads=args.threads, prefer_gpu=False), data)
        for side, path in (("old", args.old), ("new", args.new))
    }
    old, new = per_artist(correct["old"], data.artists), per_artist(correct["new"], data.artists)
    rows = {
        artist: {"clips": old[artist]["clips"], "old": old[artist]["accuracy"], "new": new[artist]["accuracy"]}
        for artist in old
    }
    names = artist_names(Path(args.data_root) / "fma_small" / "tracks_small.csv")
    plot_artists(
        rows,
        (f"old: {args.old.name} ({correct['old'].mean():.1%})", f"new: {args.new.name} ({correct['new'].mean():.1%})"),
        names,
        args.out,
    )
    write_text_whole(args.out.with_suffix(".json"), json.dumps(rows, indent=1))
    changed = sum(r["clips"] * (r["new"] - r["old"]) for r in rows.values())
    top2 = list(rows)[:2]
    from_top2 = sum(rows[a]["clips"] * (rows[a]["new"] - rows[a]["old"]) for a in top2)
    print(
        f"test clips gained (new − old): {changed:+.0f}, of which the two most prolific artists: {from_top2:+.0f}; "
        f"wrote {args.out}"
    )
    return 0


def artist_names(csv_path: Path) -> dict[str, str]:
    import csv

    with open(csv_path, newline="") as handle:
        return {r["artist_id"]: r["artist_name"] for r in csv.DictReader(handle) if r["artist_id"]}
