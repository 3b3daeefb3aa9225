"""The learning curve's arithmetic: seeds pooled per size, gains per doubling between neighbours."""

import pytest

from genrescope.training.genre.learning_curve import CurvePoint, doubling_gains, size_means


def test_gains_are_per_doubling_between_neighbouring_sizes():
    # Two seeds of the full share draw 798 and 802 artists: one size, not two.
    points = [
        CurvePoint("a", 0.125, 100, 300, 0.52, 0.50),
        CurvePoint("b", 0.25, 200, 600, 0.61, 0.60),
        CurvePoint("c", 1.0, 798, 2400, 0.71, 0.68),
        CurvePoint("d", 1.0, 802, 2400, 0.73, 0.72),
    ]
    means = size_means(points)
    assert means == [(100, 0.50), (200, 0.60), (800, pytest.approx(0.70))]
    assert doubling_gains(means) == [pytest.approx(0.10), pytest.approx(0.05)]  # 800 is two doublings of 200
