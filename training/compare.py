"""Compare training runs on the validation split: each checkpoint, and every ensemble of them.

The question it answers before anything is exported: is a run better than another, and
would averaging runs help? Only the validation split is read (the test split stays
untouched until one model is chosen). An ensemble averages the members'
log-probabilities, the same pooling an exported ensemble would use.

    python -m training.compare runs/genre/best.pt runs/genre-short/best.pt [...]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch

from model.spec import FrontendSpec
from training.release import run_config
from training.train import clip_logits, load_checkpoint_model, load_features


def validation_log_probabilities(checkpoint: Path, data_root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole-clip log-probabilities of a checkpoint on its run's validation split, and the labels."""
    model, record = load_checkpoint_model(checkpoint)
    config = run_config(record, data_root)
    validation = load_features(config).subset("validation")
    logits = torch.from_numpy(clip_logits(model, validation.images, torch.device("cpu"), FrontendSpec().floor_db))
    return logits.log_softmax(-1).numpy(), validation.labels


def compare(checkpoints: list[Path], data_root: Path | None = None) -> dict[str, float]:
    """Validation accuracy of each checkpoint and of each ensemble of two or more."""
    scored = [validation_log_probabilities(path, data_root) for path in checkpoints]
    labels = scored[0][1]
    if any(not np.array_equal(other, labels) for _, other in scored):
        raise ValueError("the runs were validated on different data; compare runs of one data set")
    results = {}
    for size in range(1, len(checkpoints) + 1):
        for members in itertools.combinations(range(len(checkpoints)), size):
            pooled = np.mean([scored[i][0] for i in members], axis=0)
            name = " + ".join(str(checkpoints[i]) for i in members)
            results[name] = float((pooled.argmax(1) == labels).mean())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--data-root", type=Path, default=None, help="folder holding fma_small/ (default: each run's)")
    args = parser.parse_args()
    for name, accuracy in compare(args.checkpoints, args.data_root).items():
        print(f"{accuracy:7.2%}  {name}")


if __name__ == "__main__":
    main()
