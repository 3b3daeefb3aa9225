"""The --plot timeline in fixed memory: decimated as it grows, means kept exact."""

import numpy as np
import pytest

from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.engine.timeline import Timeline

LABELS = ("A", "B")


def update(index: int, p: float) -> GenreUpdate:
    return GenreUpdate(
        time=index * 0.25,
        column=index,
        labels=LABELS,
        probabilities=(p, 1 - p),
        raw_probabilities=(p, 1 - p),
        context_seconds=1.0,
        mel_column=(),
    )


def test_keeps_every_point_until_full():
    timeline = Timeline(max_points=8)
    for i in range(8):
        timeline.add(update(i, i / 10))
    times, probabilities, weights = timeline.points()
    assert times.tolist() == [i * 0.25 for i in range(8)] and (weights == 1).all()
    assert probabilities[:, 0] == pytest.approx([i / 10 for i in range(8)])


def test_bounded_and_weighted_mean_exact_over_a_long_stream():
    rng = np.random.default_rng(1)
    values = rng.random(100_003)
    timeline = Timeline(max_points=64)
    for i, p in enumerate(values):
        timeline.add(update(i, float(p)))
    times, probabilities, weights = timeline.points()
    assert len(timeline) <= 64 and weights.sum() == len(values)
    assert (probabilities[:, 0] @ weights) / weights.sum() == pytest.approx(values.mean(), rel=1e-9)
    assert np.all(np.diff(times) > 0) and times[0] < 0.25 * 2048 and times[-1] > 0.25 * 99_000


def test_file_plot_draws_the_stream(test_model_path, tmp_path):
    """`genrescope file --plot` through the real CLI: a PNG of the decimated timeline."""
    from support import run_cli, write_tone

    tone = write_tone(tmp_path / "tone.wav", 6.0)
    plot = tmp_path / "timeline.png"
    result = run_cli("file", str(tone), "--plot", str(plot), "--quiet", "--model", str(test_model_path))
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
