"""CoverModel (onnxruntime wrapper), the cover CLI, and the shipped model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mutagen.flac import FLAC, Picture
from PIL import Image

from cover_fixtures import write_tiny_cover_model
from genrescope.model.cover.cover import DEFAULT_MODEL, CoverModel, restrict
from genrescope.model.cover.cover_spec import LABEL_SETS, UNION_LABELS, CoverSpec
from genrescope.stream.cli.commands import main as genrescope_main
from support import silence


@pytest.fixture()
def tiny_model(tmp_path):
    path = tmp_path / "tiny.onnx"
    write_tiny_cover_model(path)
    return path


def red_image(size=(64, 48)) -> Image.Image:
    return Image.new("RGB", size, (255, 0, 0))


def test_spec_roundtrip():
    spec = CoverSpec(size=160)
    assert CoverSpec.from_json(spec.to_json()) == spec


def test_predict_uses_metadata_spec(tiny_model):
    model = CoverModel.load(tiny_model)
    assert model.spec.size == 32 and model.version == "tiny-test"
    assert model.provider in ("CUDAExecutionProvider", "CPUExecutionProvider")
    probs = model.predict(red_image())
    assert set(probs) == set(UNION_LABELS)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert max(probs, key=probs.get) == "Rock"


def test_label_set_renormalises(tiny_model):
    model = CoverModel.load(tiny_model)
    probs = model.predict(red_image(), label_set="spotify5")
    assert set(probs) == set(LABEL_SETS["spotify5"])
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="unknown label set"):
        model.predict(red_image(), label_set="nope")


def test_restrict_is_the_conditional():
    assert restrict({"a": 0.2, "b": 0.2, "c": 0.6}, ("a", "b")) == {"a": 0.5, "b": 0.5}


def test_cli_json_for_image_and_song(tiny_model, tmp_path, capsys):
    image = tmp_path / "cover.png"
    red_image().save(image)
    song = silence(tmp_path / "song.flac")
    audio = FLAC(song)
    pic = Picture()
    pic.type, pic.mime = 3, "image/png"
    pic.data = image.read_bytes()
    audio.add_picture(pic)
    audio.save()
    assert genrescope_main(["cover", str(image), str(song), "--json", "--model", str(tiny_model)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "tiny-test"
    assert [r["source"] for r in out["results"]] == ["image", "embedded artwork"]
    for r in out["results"]:
        assert r["top"] == "Rock"
        assert list(r["probabilities"].values()) == sorted(r["probabilities"].values(), reverse=True)


def test_cli_song_without_artwork_says_so(tiny_model, tmp_path, capsys):
    song = silence(tmp_path / "plain.flac")
    assert genrescope_main(["cover", str(song), "--model", str(tiny_model)]) == 1
    err = capsys.readouterr().err
    assert "no embedded artwork" in err and "Traceback" not in err


def test_cli_missing_model_is_a_clear_error(tmp_path, capsys):
    assert genrescope_main(["cover", str(tmp_path / "x.png"), "--model", str(tmp_path / "none.onnx")]) == 2
    assert "cover model not found" in capsys.readouterr().err


@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="shipped cover model not built yet")
def test_shipped_model_metadata_and_sanity():
    model = CoverModel.load()
    assert model.spec.labels == UNION_LABELS
    assert model.spec.label_sets == LABEL_SETS
    assert model.version and "test" in model.metrics
    assert DEFAULT_MODEL.stat().st_size < 20 * 2**20
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8))
    for image in (noise, red_image((300, 300)), Image.new("L", (120, 200), 128)):
        probs = model.predict(image)
        values = np.array(list(probs.values()))
        assert np.all(values >= 0) and values.sum() == pytest.approx(1.0, abs=1e-4)


def test_main_cli_has_the_cover_command(tiny_model, tmp_path, capsys):
    image = tmp_path / "cover.jpg"
    red_image().save(image)
    assert genrescope_main(["cover", str(image), "--json", "--model", str(tiny_model)]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["top"] == "Rock"
