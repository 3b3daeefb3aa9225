"""The frontend spec: derivations, serialisation, refusal of foreign specs."""

import json

import pytest

from genrescope.model.frontend.spec import FrontendSpec


def test_columns_follow_the_thumbnail_recipe():
    spec = FrontendSpec()
    assert spec.frames_per_column == pytest.approx(2584 / 128)
    assert spec.column_seconds == pytest.approx(30 / 128, rel=1e-3)
    assert spec.context_seconds == pytest.approx(30.0, rel=1e-3)
    # column i samples frame floor((i + 0.5) * 2584 / 128)
    assert [spec.column_frame(i) for i in (0, 1, 127)] == [10, 30, 2573]
    assert spec.column_center(1) == 30 * 512


def test_json_round_trip_and_refusal():
    spec = FrontendSpec()
    assert FrontendSpec.from_json(spec.to_json()) == spec
    data = json.loads(spec.to_json())
    del data["n_mels"]
    with pytest.raises(ValueError, match="missing"):
        FrontendSpec.from_json(json.dumps(data))


def test_invalid_values_are_refused():
    with pytest.raises(ValueError):
        FrontendSpec(f_max=30_000)
    with pytest.raises(ValueError):
        FrontendSpec(floor_db=10)
