"""int8 quantization: the card survives, shapes stay dynamic, and the numbers stay close."""

import numpy as np
import onnx
import pytest

from genrescope.model.genre.quantize import STEM_PREFIX, quantize_genre_model
from genrescope.model.session import GenreModel


@pytest.fixture(scope="module")
def quantized(test_model_path, tmp_path_factory):
    rng = np.random.default_rng(0)
    calibration = rng.uniform(-80.0, 0.0, size=(8, 128, 128)).astype(np.float32)
    path = tmp_path_factory.mktemp("int8") / "int8.onnx"
    quantize_genre_model(test_model_path, path, calibration)
    return path


def test_quantized_model_keeps_its_card_and_shrinks(test_model_path, quantized):
    original, small = GenreModel.load(test_model_path), GenreModel.load(quantized)
    assert small.card == original.card
    assert quantized.stat().st_size < 0.5 * test_model_path.stat().st_size


def test_convolutions_are_int8_except_the_stem(quantized):
    graph = onnx.load(str(quantized)).graph
    quantized_inputs = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    stem = [n for n in convs if n.name.startswith(STEM_PREFIX)]
    assert len(stem) == 1 and not set(stem[0].input[:2]) & quantized_inputs  # data, weight
    assert all(set(n.input[:2]) <= quantized_inputs for n in convs if n not in stem)


def test_quantized_logits_track_the_float_ones(test_model_path, quantized):
    rng = np.random.default_rng(1)
    original, small = GenreModel.load(test_model_path), GenreModel.load(quantized)
    for batch, length in ((1, 1), (2, 43), (3, 128)):
        x = rng.uniform(-80.0, 0.0, size=(batch, length, 128)).astype(np.float32)
        a, b = original.logits(x), small.logits(x)
        assert b.shape == a.shape
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def test_calibration_must_be_windows(test_model_path, tmp_path):
    with pytest.raises(ValueError, match="calibration"):
        quantize_genre_model(test_model_path, tmp_path / "x.onnx", np.zeros((128, 128), np.float32))
