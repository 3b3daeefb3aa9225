"""Fusion math: limits, invariants and the explicit label mapping."""

from __future__ import annotations

import math

import pytest

from genrescope.model.cover.fusion import AUDIO_GENRES, SHARED, cover_on_shared, fuse, pool

AUDIO = dict(zip(AUDIO_GENRES, (0.30, 0.05, 0.05, 0.10, 0.05, 0.05, 0.20, 0.20), strict=True))
COVER = {
    "Classical": 0.05,
    "Country": 0.05,
    "Electronic": 0.05,
    "HipHop": 0.60,
    "Jazz": 0.05,
    "Metal": 0.10,
    "Pop": 0.05,
    "Rock": 0.05,
}


def test_shared_genres_and_mapping():
    assert SHARED == ("Electronic", "Hip-Hop", "Pop", "Rock")
    mapped = cover_on_shared(COVER)
    assert mapped["Rock"] == pytest.approx(0.15 / 0.85)  # Rock + Metal
    assert mapped["Hip-Hop"] == pytest.approx(0.60 / 0.85)
    assert sum(mapped.values()) == pytest.approx(1.0)


def test_weight_zero_is_audio_alone():
    assert fuse(AUDIO, COVER, 0.0) == pytest.approx(AUDIO)


def test_weight_one_lets_the_cover_rank_shared_genres():
    fused = fuse(AUDIO, COVER, 1.0)
    shared_mass = sum(AUDIO[g] for g in SHARED)
    for g, p in cover_on_shared(COVER).items():
        assert fused[g] == pytest.approx(shared_mass * p)


def test_non_shared_genres_untouched_and_total_kept():
    fused = fuse(AUDIO, COVER, 0.4)
    for g in set(AUDIO_GENRES) - set(SHARED):
        assert fused[g] == AUDIO[g]
    assert sum(fused.values()) == pytest.approx(1.0)
    assert fused["Hip-Hop"] > AUDIO["Hip-Hop"]  # the cover's vote moved mass its way


def test_pool_is_weighted_geometric_mean():
    a, c = {"x": 0.8, "y": 0.2}, {"x": 0.2, "y": 0.8}
    assert pool(a, c, 0.5) == pytest.approx({"x": 0.5, "y": 0.5})
    odds = pool(a, c, 0.25)["x"] / pool(a, c, 0.25)["y"]
    assert math.log(odds) == pytest.approx(0.75 * math.log(4) + 0.25 * math.log(0.25))


def test_zero_probabilities_do_not_veto_and_bad_weight_rejected():
    fused = pool({"x": 1.0, "y": 0.0}, {"x": 0.0, "y": 1.0}, 0.5)
    assert all(0 < v < 1 for v in fused.values())
    with pytest.raises(ValueError):
        pool({"x": 1.0}, {"x": 1.0}, 1.5)


def test_shipped_weight_is_a_weight():
    from genrescope.model.cover.fusion import FUSION_FILE, fitted_weight

    if not FUSION_FILE.exists():
        pytest.skip("fusion weight not fitted yet (genrescope fit-fusion)")
    assert 0.0 <= fitted_weight() <= 1.0
