"""``genrescope export``: a training checkpoint → the shipped ONNX model with its card.

The float export is checked against torch (parity), then, by default, quantized to int8
(``model/quantize.py``) with ranges calibrated on training clips. The temperature that
calibrates the probabilities is fitted on the *validation* split (never test) with the
file that ships, and stored in its card, so every consumer gets calibrated probabilities
without knowing about it. The card also records both precisions' validation accuracy:
the evidence for shipping int8.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch


from genrescope.model.card import ModelCard, update_card
from genrescope.model.export import export_genre_model
from genrescope.model.quantize import quantize_genre_model
from genrescope.model.session import GenreModel
from genrescope.model.spec import FrontendSpec
from genrescope.training.augment import clip_db
from genrescope.training.config import TrainConfig
from genrescope.training.evaluate import window_logits
from genrescope.training.fma import GENRES, FeatureSet, load_features
from genrescope.training.train import load_checkpoint_model, run_config

CALIBRATION_CLIPS = 200  # whole training clips (never validation or test)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the negative log-likelihood of softmax(logits / T)."""
    x, y = torch.from_numpy(logits).double(), torch.from_numpy(labels)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


def calibration_windows(data: FeatureSet, floor_db: float, seed: int = 0) -> np.ndarray:
    """Whole training clips in dB, as the engine feeds a full context."""
    training = np.flatnonzero(data.splits == "training")
    count = min(CALIBRATION_CLIPS, len(training))
    chosen = np.random.default_rng(seed).choice(len(training), count, replace=False)
    return clip_db(data.images[training[np.sort(chosen)]], floor_db)


def validation_accuracy(path: Path, validation: FeatureSet) -> tuple[float, np.ndarray]:
    """Clip-level validation accuracy of an exported file, and its logits."""
    model = GenreModel.load(path, threads=2, prefer_gpu=False)
    logits, _ = window_logits(model, validation.images, validation.images.shape[1], 1)
    return float((logits.argmax(1) == validation.labels).mean()), logits


def describe(model: torch.nn.Module, checkpoint: dict, config: TrainConfig, data: FeatureSet,
             version: str, precision: str) -> ModelCard:
    """The card of an export, before its temperature is known."""
    return ModelCard(
        labels=GENRES, frontend=FrontendSpec(), version=version,
        architecture={"name": "GenreCRNN", **model.config.to_dict(), "precision": precision,
                      "parameters": sum(p.numel() for p in model.parameters())},
        training={"data": f"FMA-small ({config.source}), official split",
                  "trained_on": f"training ({int((data.splits == 'training').sum()):,} tracks)",
                  "selected_on": f"validation ({int((data.splits == 'validation').sum()):,} tracks)",
                  "selection_record": checkpoint["selected_on"],
                  "config": checkpoint["train_config"]},
    )


def write_model(model: torch.nn.Module, card: ModelCard, data: FeatureSet, precision: str,
                out: Path) -> tuple[float, dict[str, float], np.ndarray]:
    """Export (float32, parity-checked), quantize when asked, and score each on validation.

    Returns the parity difference, validation accuracy per precision, and the shipped
    file's validation logits (for the temperature).
    """
    validation = data.subset("validation")
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / "float32.onnx"
        difference = export_genre_model(model, card, float_path)
        accuracy, logits = validation_accuracy(float_path, validation)
        accuracies = {"float32": round(accuracy, 4)}
        out.parent.mkdir(parents=True, exist_ok=True)
        if precision == "int8":
            quantize_genre_model(float_path, out, calibration_windows(data, card.frontend.floor_db))
            accuracy, logits = validation_accuracy(out, validation)
            accuracies["int8"] = round(accuracy, 4)
        else:
            shutil.copyfile(float_path, out)
    return difference, accuracies, logits


def run_export(args: argparse.Namespace) -> int:
    model, checkpoint = load_checkpoint_model(args.checkpoint)
    config = run_config(checkpoint, args.data_root)
    data = load_features(config)
    card = describe(model, checkpoint, config, data, args.version, args.precision)
    difference, accuracies, logits = write_model(model, card, data, args.precision, args.out)
    temperature = fit_temperature(logits, data.labels[data.splits == "validation"])
    training = {**card.training, "validation_accuracy_by_precision": accuracies}
    update_card(args.out, replace(card, temperature=temperature, training=training))
    print(f"wrote {args.out} ({args.precision}, {args.out.stat().st_size / 1e6:.1f} MB); temperature "
          f"{temperature:.3f} (fitted on validation); torch vs onnxruntime float32 max |diff| {difference:.1e}; "
          "validation accuracy " + ", ".join(f"{k} {v:.1%}" for k, v in accuracies.items()))
    return 0
