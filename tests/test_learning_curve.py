"""The learning curve's arithmetic: seeds pooled per size, gains per doubling between neighbours."""

import pytest

from training.learning_curve import CurvePoint, doubling_gains, size_means


def test_gains_are_per_doubling_between_neighbouring_sizes():
    points = [CurvePoint("a", 100, 300, 0.52, 0.50), CurvePoint("b", 200, 600, 0.61, 0.60),
              CurvePoint("c", 800, 2400, 0.71, 0.68), CurvePoint("d", 800, 2400, 0.73, 0.72)]
    means = size_means(points)
    assert means == [(100, 0.50), (200, 0.60), (800, pytest.approx(0.70))]
    assert doubling_gains(means) == [pytest.approx(0.10), pytest.approx(0.05)]  # 800 is two doublings of 200
