"""``genrescope export``: a training checkpoint → the shipped ONNX model with its card.

The temperature that calibrates the probabilities is fitted here on the *validation*
split (never test) and stored in the card, so every consumer of the model gets
calibrated probabilities without knowing about it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from model.card import ModelCard
from model.export import export_genre_model
from model.session import DEFAULT_GENRE_MODEL
from model.spec import FrontendSpec
from training.config import DEFAULT_DATA_ROOT, TrainConfig
from training.fma import GENRES, THUMBNAIL_CACHE, load_thumbnails
from training.train import clip_logits, load_checkpoint_model

DEFAULT_CHECKPOINT = Path("runs/genre/best.pt")
MODEL_VERSION = "genre-crnn-effl0-1.0"


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
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    model, checkpoint = load_checkpoint_model(args.checkpoint)
    spec = FrontendSpec()
    cache = TrainConfig(run_dir=checkpoint["train_config"]["run_dir"]).cache_dir / THUMBNAIL_CACHE
    validation = load_thumbnails(args.data_root / "fma_small", cache).subset("validation")
    logits = clip_logits(model, validation.images, torch.device("cpu"), spec.floor_db)
    temperature = fit_temperature(logits, validation.labels)
    card = ModelCard(
        labels=GENRES, frontend=spec, version=args.version, temperature=temperature,
        architecture={"name": "GenreCRNN", **model.config.to_dict(),
                      "parameters": sum(p.numel() for p in model.parameters())},
        training={"data": "FMA-small log-mel thumbnails, official split",
                  "trained_on": "training (6,394 tracks)", "selected_on": "validation (800 tracks)",
                  "selection_record": checkpoint["selected_on"],
                  "config": checkpoint["train_config"]},
    )
    difference = export_genre_model(model, card, args.out)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB); temperature {temperature:.3f} (fitted on validation); "
          f"torch vs onnxruntime max |diff| {difference:.1e}")
    return 0
