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

import onnx

from model.card import ModelCard, write_card
from model.export import export_genre_model
from model.quantize import quantize_genre_model
from model.session import DEFAULT_GENRE_MODEL, GenreModel
from model.spec import FrontendSpec
from training.augment import window_db
from training.config import DEFAULT_DATA_ROOT, TrainConfig
from training.evaluate import window_logits
from training.fma import GENRES, THUMBNAIL_CACHE, FeatureSet, load_thumbnails
from training.train import load_checkpoint_model

DEFAULT_CHECKPOINT = Path("runs/genre/best.pt")
MODEL_VERSION = "genre-crnn-effl0-1.1-int8"
CALIBRATION_CLIPS = 200  # whole training clips; more did not change the ranges measurably
PRECISIONS = ("int8", "float32")


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, nargs="?", default=DEFAULT_CHECKPOINT,
                        help=f"training checkpoint (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--out", type=Path, default=DEFAULT_GENRE_MODEL, help="ONNX file to write")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder holding fma_small/")
    parser.add_argument("--version", default=MODEL_VERSION, help="model version stored in the card")
    parser.add_argument("--precision", choices=PRECISIONS, default="int8",
                        help="int8: ≈2× faster on CPUs and a third of the size (default); float32: as trained")
    parser.set_defaults(handler=run_export)


def calibration_windows(training: FeatureSet, floor_db: float, seed: int = 0) -> np.ndarray:
    """Whole training clips in dB, as the engine feeds a full context."""
    chosen = np.random.default_rng(seed).choice(len(training.images), CALIBRATION_CLIPS, replace=False)
    images = training.images[np.sort(chosen)]
    return window_db(images, np.zeros(len(images), dtype=int), images.shape[1], floor_db)


def validation_accuracy(path: Path, validation: FeatureSet) -> tuple[float, np.ndarray]:
    """Clip-level validation accuracy of an exported file, and its logits."""
    model = GenreModel.load(path, threads=2, prefer_gpu=False)
    logits, _ = window_logits(model, validation.images, validation.images.shape[1], 1)
    return float((logits.argmax(1) == validation.labels).mean()), logits


def run_export(args: argparse.Namespace) -> int:
    model, checkpoint = load_checkpoint_model(args.checkpoint)
    spec = FrontendSpec()
    cache = TrainConfig(run_dir=checkpoint["train_config"]["run_dir"]).cache_dir / THUMBNAIL_CACHE
    data = load_thumbnails(args.data_root / "fma_small", cache)
    validation = data.subset("validation")
    card = ModelCard(
        labels=GENRES, frontend=spec, version=args.version,
        architecture={"name": "GenreCRNN", **model.config.to_dict(), "precision": args.precision,
                      "parameters": sum(p.numel() for p in model.parameters())},
        training={"data": "FMA-small log-mel thumbnails, official split",
                  "trained_on": "training (6,394 tracks)", "selected_on": "validation (800 tracks)",
                  "selection_record": checkpoint["selected_on"],
                  "config": checkpoint["train_config"]},
    )
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / "float32.onnx"
        difference = export_genre_model(model, card, float_path)
        float_accuracy, logits = validation_accuracy(float_path, validation)
        accuracies = {"float32": round(float_accuracy, 4)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.precision == "int8":
            calibration = calibration_windows(data.subset("training"), spec.floor_db)
            quantize_genre_model(float_path, args.out, calibration)
            int8_accuracy, logits = validation_accuracy(args.out, validation)
            accuracies["int8"] = round(int8_accuracy, 4)
        else:
            shutil.copyfile(float_path, args.out)
    temperature = fit_temperature(logits, validation.labels)
    training = {**card.training, "validation_accuracy_by_precision": accuracies}
    proto = onnx.load(str(args.out))
    write_card(proto, replace(card, temperature=temperature, training=training))
    onnx.save(proto, str(args.out))
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({args.precision}, {size:.1f} MB); temperature {temperature:.3f} (fitted on "
          f"validation); torch vs onnxruntime float32 max |diff| {difference:.1e}; validation accuracy "
          + ", ".join(f"{k} {v:.1%}" for k, v in accuracies.items()))
    return 0
