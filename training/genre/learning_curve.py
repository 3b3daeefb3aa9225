"""How validation accuracy grows with the number of training artists: table, gains and plot.

Reads finished runs (their ``config.yaml`` and ``history.jsonl``), each trained on a
share of the training artists (``genrescope train --training-artists``), and reports
per run the best validation accuracy over its epochs (what selection would keep; it
flatters noisy runs) and the mean of its last five epochs (a steadier level), then the
gain per doubling of artists between neighbouring sizes: how much more *data* would
buy, recipe unchanged. Validation only; the test split is not read. Run it as
``genrescope learning-curve``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import yaml

from genrescope.stream.outputs import save_figure
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.fma import FeatureSet, load_features_once, training_tracks

LAST_EPOCHS = 5


@dataclass(frozen=True)
class CurvePoint:
    run: str
    share: float  # of each genre's training artists (--training-artists)
    artists: int
    tracks: int
    best: float
    last: float


def curve_point(run_dir: Path, loaded: dict[tuple, FeatureSet]) -> CurvePoint:
    """One run's size (training artists and tracks, as its config drew them) and accuracy."""
    config = TrainConfig.from_checkpoint(yaml.safe_load((run_dir / "config.yaml").read_text()))  # older runs too
    training = training_tracks(load_features_once(config, loaded), config)
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    accuracies = [epoch["val_accuracy"] for epoch in history]
    return CurvePoint(
        str(run_dir),
        config.training_artists,
        len(np.unique(training.artists)),
        len(training.labels),
        max(accuracies),
        float(np.mean(accuracies[-LAST_EPOCHS:])),
    )


def size_means(points: list[CurvePoint]) -> list[tuple[float, float]]:
    """(mean artists, mean last-epochs accuracy) per share, smallest first: seeds pooled (a
    seed draws its own artists, so their counts differ by a few)."""
    shares = sorted({p.share for p in points})
    return [
        (
            float(np.mean([p.artists for p in points if p.share == share])),
            float(np.mean([p.last for p in points if p.share == share])),
        )
        for share in shares
    ]


def doubling_gains(means: list[tuple[float, float]]) -> list[float]:
    """Accuracy gained per doubling of artists between each pair of neighbouring sizes.

    Neighbour by neighbour rather than one straight line: if the gain shrinks as the
    data grows, a line through every size would promise more than the last step gave.
    """
    return [(b - a) / np.log2(m / n) for (n, a), (m, b) in pairwise(means)]


def plot(points: list[CurvePoint], means: list[tuple[float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.scatter(
        [p.artists for p in points],
        [100 * p.best for p in points],
        marker="^",
        label="best epoch (what selection keeps)",
    )
    axes.scatter(
        [p.artists for p in points],
        [100 * p.last for p in points],
        marker="o",
        label=f"mean of the last {LAST_EPOCHS} epochs, per run",
    )
    axes.plot([n for n, _ in means], [100 * a for _, a in means], color="grey", label="mean over seeds (last epochs)")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("training artists (FMA-small official training split)")
    axes.set_ylabel("validation accuracy, whole clip (%)")
    axes.set_title("Genre CRNN: accuracy against training artists")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, path, dpi=120)
    plt.close(figure)


def run_learning_curve(args: argparse.Namespace) -> int:
    """``genrescope learning-curve``: the table, the gains and the plot."""
    loaded: dict[tuple, FeatureSet] = {}
    points = sorted((curve_point(run, loaded) for run in args.runs), key=lambda p: p.artists)
    print(f"{'artists':>7} {'tracks':>6} {'best':>6} {'last5':>6}  run")
    for p in points:
        print(f"{p.artists:7d} {p.tracks:6d} {p.best:6.1%} {p.last:6.1%}  {p.run}")
    means = size_means(points)
    for ((n, _), (m, _)), gain in zip(pairwise(means), doubling_gains(means), strict=True):
        print(f"{n:.0f} → {m:.0f} artists: {100 * gain:+.1f} points per doubling (last-{LAST_EPOCHS} means)")
    plot(points, means, args.plot)
    print(f"plot: {args.plot}")
    return 0
