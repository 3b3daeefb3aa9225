"""The genre timeline of a whole stream as a PNG: stacked areas over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from genrescope.stream.engine.timeline import Timeline
from genrescope.stream.outputs import save_figure
from genrescope.stream.palette import genre_colours


def plot_timeline(timeline: Timeline, path: Path, title: str) -> None:
    """Stacked smoothed probabilities against stream time, with the mean ranking in the legend."""
    if not len(timeline):
        raise ValueError("no updates to plot: the stream was shorter than the first model column")
    labels = timeline.labels
    times, points, weights = timeline.points()
    probs = points.T  # [genres, points]
    mean = probs @ weights / weights.sum()  # over every update, whatever the decimation
    colours = genre_colours(labels)
    order = np.argsort(mean)  # the most likely genre on top, listed first in the legend
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=120)
    ax.stackplot(
        times,
        probs[order],
        colors=[colours[labels[i]] for i in order],
        labels=[f"{labels[i]} ({mean[i]:.0%})" for i in order],
        alpha=0.9,
    )
    ax.set_xlim(times[0], times[-1] if len(times) > 1 else times[0] + 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("genre probability (smoothed)")
    ax.set_title(f"{title} — mostly {labels[int(mean.argmax())]}")
    handles, names = ax.get_legend_handles_labels()
    ax.legend(
        handles[::-1], names[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, title="genre (mean)"
    )
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
