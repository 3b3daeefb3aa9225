"""ONNX export: parity with torch, the model card, refusal of models without one."""

import numpy as np
import onnx
import pytest
import torch

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.model.genre.card import ModelCardError
from genrescope.model.session import GenreModel
from genrescope.training.genre.fma import GENRES


def test_card_travels_inside_the_model(test_model_path):
    model = GenreModel.load(test_model_path, prefer_gpu=False)
    assert model.labels == GENRES
    assert model.card.frontend == FrontendSpec()
    assert model.card.temperature == 1.5
    assert model.provider == "CPUExecutionProvider"  # asked for the CPU: true on a GPU machine too


def test_dynamic_batch_and_time(test_model_path):
    model = GenreModel.load(test_model_path)
    for batch, length in ((1, 1), (3, 13), (2, 128), (1, 200)):
        probabilities = model.probabilities(np.full((batch, length, 128), -30.0, dtype=np.float32))
        assert probabilities.shape == (batch, len(GENRES))
        np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)


def test_io_binding_path_matches_plain_run(test_model_path):
    model = GenreModel.load(test_model_path)
    x = torch.linspace(-80, 0, 43 * 128).reshape(1, 43, 128)
    np.testing.assert_allclose(model.logits_bound(x), model.logits(x.numpy()), atol=1e-6)


def test_model_without_card_is_refused(test_model_path, tmp_path):
    proto = onnx.load(str(test_model_path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ModelCardError, match="no genrescope metadata"):
        GenreModel.load(bare)


def test_not_an_onnx_file_is_refused(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelCardError):
        GenreModel.load(junk)
