"""Export the genre CRNN to ONNX with its card, and prove torch and onnxruntime agree.

The legacy TorchScript exporter (``dynamo=False``) is used because it exports a GRU with
dynamic batch *and* time axes; the dynamo exporter fails on it in torch 2.9.1.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from genrescope.model.card import ModelCard, write_card
from genrescope.model.crnn import GenreCRNN
from genrescope.model.session import create_session

OPSET = 17
PARITY_TOLERANCE = 1e-4
PARITY_LENGTHS = (1, 4, 13, 43, 128)  # cold start … 3 s, 10 s, 30 s of columns


class ParityError(AssertionError):
    """onnxruntime's output differs from torch's by more than the tolerance."""


def export_genre_model(model: GenreCRNN, card: ModelCard, path: Path) -> float:
    """Write ``model`` with ``card`` to ``path``; return the worst torch/ORT difference."""
    model = model.eval()
    example = torch.full((1, card.frontend.context_columns, card.frontend.n_mels), -40.0)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The tracer warns about the GRU's shape checks and variable batch sizes; the
        # parity check below runs several batch sizes and lengths, which is the real proof.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), buffer, input_names=["mel_db"], output_names=["logits"],
            dynamic_axes={"mel_db": {0: "batch", 1: "time"}, "logits": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    write_card(proto, card)
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    return check_parity(model, path, card.frontend.n_mels)


def check_parity(model: GenreCRNN, path: Path, n_mels: int, seed: int = 0) -> float:
    """Max |torch − onnxruntime| over inputs of several lengths and batch sizes."""
    session = create_session(path, threads=1, prefer_gpu=False)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for length in PARITY_LENGTHS:
        x = rng.uniform(-80.0, 0.0, size=(2, length, n_mels)).astype(np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        actual = session.run(None, {"mel_db": x})[0]
        worst = max(worst, float(np.abs(expected - actual).max()))
    if worst > PARITY_TOLERANCE:
        raise ParityError(f"torch vs onnxruntime differ by {worst:.2e} (> {PARITY_TOLERANCE:g})")
    return worst
