"""Evaluation arithmetic: report, calibration error, temperature, crop ensemble."""

import numpy as np
import pytest

from genrescope.training.genre.evaluate import (
    artist_interval,
    calibration_interval,
    classification_report,
    crop_ensemble_logits,
    expected_calibration_error,
)
from genrescope.training.genre.release import fit_temperature


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


def test_ece_is_the_bin_weighted_gap_between_accuracy_and_confidence():
    """Two bins by hand: (0.6, right), (0.6, wrong) → |0.5 − 0.6|; (0.9, right) → |1 − 0.9|."""
    probabilities = np.array([[0.6, 0.4], [0.6, 0.4], [0.9, 0.1]])
    expected = (2 / 3) * 0.1 + (1 / 3) * 0.1
    assert expected_calibration_error(probabilities, np.array([0, 1, 0])) == pytest.approx(expected)


def test_calibration_interval_resamples_artists():
    """Right and sure stays calibrated in every resample; where half the artists are always
    right and half mostly wrong, the ECE (0.15 over the split) moves with the mix drawn."""
    artists = np.repeat(np.arange(20), 10).astype(str)
    sure = np.tile([[1.0, 0.0]], (200, 1))
    assert calibration_interval(sure, np.zeros(200, int), artists) == [0.0, 0.0]
    probabilities = np.tile([[0.75, 0.25]], (200, 1))
    within = np.tile(np.arange(10), 20)  # each track's number within its artist
    good = np.repeat(np.arange(20) % 2 == 0, 10)  # every other artist
    labels = np.where(good | (within < 2), 0, 1)  # good artists always right, the others 2 times in 10
    point = expected_calibration_error(probabilities, labels)
    low, high = calibration_interval(probabilities, labels, artists)
    assert point == pytest.approx(0.15) and low < point < high and high - low > 0.1


def test_temperature_undoes_overconfidence():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 4000)
    true_logits = rng.normal(size=(4000, 4))
    true_logits[np.arange(4000), labels] += 1.0
    sampled = np.array([rng.choice(4, p=np.exp(row) / np.exp(row).sum()) for row in true_logits])
    assert fit_temperature(3.0 * true_logits, sampled) == pytest.approx(3.0, rel=0.15)


def test_crop_ensemble_averages_each_clip_with_its_windows():
    full = np.log(np.array([[0.9, 0.1], [0.5, 0.5]]))
    windows = np.log(np.array([[0.1, 0.9], [0.1, 0.9], [0.5, 0.5]]))
    clip = np.array([0, 0, 1])
    np.testing.assert_allclose(np.exp(crop_ensemble_logits(full, windows, clip)), [[11 / 30, 19 / 30], [0.5, 0.5]])
