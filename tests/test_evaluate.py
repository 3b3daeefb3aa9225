"""Evaluation arithmetic: report, calibration error, temperature, crop ensemble."""

import numpy as np
import pytest

from genrescope.training.evaluate import (artist_interval, classification_report, crop_ensemble_logits,
                               expected_calibration_error)
from genrescope.training.release import fit_temperature


def test_classification_report_counts():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    report = classification_report(predicted, labels, ("a", "b", "c"))
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report["per_genre"]["b"] == {"precision": pytest.approx(2 / 3, abs=1e-4), "recall": 1.0, "f1": 0.8}


def test_artist_interval_widens_when_artists_decide():
    """100 tracks from 10 artists, each artist all right or all wrong: 50% with ~10 independent draws."""
    artists = np.repeat(np.arange(10), 10).astype(str)
    correct = np.repeat(np.arange(10) < 5, 10)
    low, high = artist_interval(correct, artists)
    assert low < 0.5 < high
    assert high - low > 0.4  # a track-level (binomial, n = 100) interval would be ≈ 0.2 wide
    spread = artist_interval(np.arange(100) % 2 == 0, artists)  # every artist at 50%
    assert spread == [0.5, 0.5]


def test_perfectly_calibrated_predictions_have_zero_ece():
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(probabilities, np.array([0, 1])) == 0.0
    assert expected_calibration_error(probabilities, np.array([1, 0])) == 1.0


def test_temperature_undoes_overconfidence():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 4000)
    true_logits = rng.normal(size=(4000, 4))
    true_logits[np.arange(4000), labels] += 1.0
    sampled = np.array([rng.choice(4, p=np.exp(l) / np.exp(l).sum()) for l in true_logits])
    assert fit_temperature(3.0 * true_logits, sampled) == pytest.approx(3.0, rel=0.15)


def test_crop_ensemble_averages_each_clip_with_its_windows():
    full = np.log(np.array([[0.9, 0.1], [0.5, 0.5]]))
    windows = np.log(np.array([[0.1, 0.9], [0.1, 0.9], [0.5, 0.5]]))
    clip = np.array([0, 0, 1])
    np.testing.assert_allclose(np.exp(crop_ensemble_logits(full, windows, clip)), [[11 / 30, 19 / 30], [0.5, 0.5]])
