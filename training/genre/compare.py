"""Compare training runs on the validation split: each checkpoint, and every ensemble of them.

The question it answers before anything is exported: is a run better than another, and
would averaging runs help? Only the validation split is read (the test split stays
untouched until one model is chosen). An ensemble averages the members'
log-probabilities, the same pooling an exported ensemble would use. Run it as
``genrescope compare``.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch

from genrescope.training.genre.fma import FeatureSet, load_features_once
from genrescope.training.genre.train import clip_logits, load_checkpoint_model, run_config


def compare(checkpoints: list[Path], data_root: Path | None = None) -> dict[str, float]:
    """Validation accuracy of each checkpoint and of each ensemble of two or more."""
    loaded: dict[tuple, FeatureSet] = {}
    scored, labels = [], None
    for path in checkpoints:
        model, record = load_checkpoint_model(path)
        validation = load_features_once(run_config(record, data_root), loaded).subset("validation")
        if labels is not None and not np.array_equal(validation.labels, labels):
            raise ValueError("the runs were validated on different data; compare runs of one data set")
        labels = validation.labels
        logits = clip_logits(model, validation.images, torch.device("cpu"), model.floor_db)
        scored.append(torch.from_numpy(logits).log_softmax(-1).numpy())
    results = {}
    for size in range(1, len(checkpoints) + 1):
        for members in itertools.combinations(range(len(checkpoints)), size):
            pooled = np.mean([scored[i] for i in members], axis=0)
            results[" + ".join(str(checkpoints[i]) for i in members)] = float((pooled.argmax(1) == labels).mean())
    return results


def run_compare(args: argparse.Namespace) -> int:
    """``genrescope compare``: one line per run and per ensemble, accuracy first."""
    for name, accuracy in compare(args.checkpoints, args.data_root).items():
        print(f"{accuracy:7.2%}  {name}")
    return 0
