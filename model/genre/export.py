"""torch → ONNX for both models, and the proof that torch and onnxruntime agree.

One exporter and one parity check serve the genre CRNN (here) and the cover model
(training/cover/export_cover.py): a model file ships only after onnxruntime reproduced torch
on the inputs its caller chose. The legacy TorchScript exporter (``dynamo=False``) is
used because it exports a GRU with dynamic batch *and* time axes; the dynamo exporter
fails on it in torch 2.9.1.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
import torch

from genrescope.model.genre.card import ModelCard, replace_metadata
from genrescope.model.genre.crnn import GenreCRNN
from genrescope.model.session import create_session

OPSET = 17
PARITY_TOLERANCE = 1e-4
PARITY_LENGTHS = (1, 4, 13, 43, 128)  # cold start … 3 s, 10 s, 30 s of columns


class ParityError(AssertionError):
    """onnxruntime's output differs from torch's by more than the tolerance."""


def export_onnx(
    model: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    names: tuple[str, str],
    dynamic_axes: dict[str, dict[int, str]],
    metadata: dict[str, str],
) -> None:
    """Write ``model`` (in eval mode) as a checked ONNX file with ``metadata``; ``names``
    are the graph input's and output's names."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The tracer warns about shape checks and variable batch sizes; the parity check
        # runs several batch sizes and lengths, which is the real proof.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (example,),
            buffer,
            input_names=[names[0]],
            output_names=[names[1]],
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    replace_metadata(proto, metadata)
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))


def check_parity(model: torch.nn.Module, path: Path, inputs: Iterable[np.ndarray]) -> float:
    """Max |torch − onnxruntime| over ``inputs`` (float32 arrays for the graph's one
    input); raises ``ParityError`` above ``PARITY_TOLERANCE``."""
    session = create_session(path, threads=1, prefer_gpu=False)
    name = session.get_inputs()[0].name
    worst = 0.0
    for x in inputs:
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        worst = max(worst, float(np.abs(expected - session.run(None, {name: x})[0]).max()))
    if worst > PARITY_TOLERANCE:
        raise ParityError(f"torch vs onnxruntime differ by {worst:.2e} (> {PARITY_TOLERANCE:g})")
    return worst


def export_genre_model(model: GenreCRNN, card: ModelCard, path: Path) -> float:
    """Write ``model`` with ``card`` to ``path``; return the worst torch/ORT difference
    over mel inputs of several lengths and two batch rows."""
    example = torch.full((1, card.frontend.context_columns, card.frontend.n_mels), -40.0)
    export_onnx(
        model,
        example,
        path,
        ("mel_db", "logits"),
        {"mel_db": {0: "batch", 1: "time"}, "logits": {0: "batch"}},
        card.to_metadata(),
    )
    rng = np.random.default_rng(0)
    inputs = [
        rng.uniform(-80.0, 0.0, size=(2, length, card.frontend.n_mels)).astype(np.float32) for length in PARITY_LENGTHS
    ]
    return check_parity(model.eval(), path, inputs)
