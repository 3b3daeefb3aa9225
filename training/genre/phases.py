"""Would averaging the model over phase-shifted column grids help? A proxy from thumbnails.

The engine receives every STFT frame (one per 512 samples) but the model reads one
frame per column (every ≈20.2 frames, as the thumbnails were drawn). A second grid
shifted by half a column sees different frames of the same music; averaging the two
grids' probabilities could steady the estimate, at twice the model work per update.

The thumbnails hold only the sampled frames, so the full-rate experiment cannot be run
on them. The proxy halves the column rate instead: the even and the odd columns of a
thumbnail are two phase-shifted grids of 64 columns each (≈0.47 s apart). Comparing one
grid alone with the average of both, at that rate, estimates what a second phase buys.
Validation split only.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from genrescope.model.session import GenreModel
from genrescope.stream.outputs import write_text_whole
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.evaluate import window_logits
from genrescope.training.genre.fma import load_features


def grid_probabilities(model: GenreModel, images: np.ndarray, phases: int) -> np.ndarray:
    """Probabilities [phases, clips, labels] of each of ``phases`` interleaved column grids
    (grid p holds columns p, p + phases, …), each a whole clip re-referenced to its own maximum."""
    grids = (np.ascontiguousarray(images[:, phase::phases]) for phase in range(phases))
    return np.stack([model.calibrated(window_logits(model, grid, grid.shape[1], 1)[0]) for grid in grids])


def phase_report(model: GenreModel, images: np.ndarray, labels: np.ndarray, phases: int, full: float) -> dict:
    """Accuracy of each grid alone and of their mean, beside ``full``: the full-rate single grid's."""
    probabilities = grid_probabilities(model, images, phases)
    single = [float((p.argmax(1) == labels).mean()) for p in probabilities]
    averaged = float((probabilities.mean(0).argmax(1) == labels).mean())
    return {
        "phases": phases,
        "columns_per_grid": images.shape[1] // phases,
        "single_grid": single,
        "single_grid_mean": float(np.mean(single)),
        "grids_averaged": averaged,
        "gain_points": round(100 * (averaged - float(np.mean(single))), 2),
        "full_rate_single_grid": full,
    }


def run_phases(args: argparse.Namespace) -> int:
    """``genrescope phases``: the proxy on the validation split, printed and as JSON."""
    data = load_features(TrainConfig(data_root=str(args.data_root))).subset("validation")
    model = GenreModel.load(args.model, threads=args.threads, prefer_gpu=False)
    full = float((grid_probabilities(model, data.images, 1)[0].argmax(1) == data.labels).mean())
    report = {
        "model": model.card.version,
        "split": "validation",
        "clips": len(data.labels),
        **{f"phases_{p}": phase_report(model, data.images, data.labels, p, full) for p in args.phases},
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        write_text_whole(args.out, text + "\n")
    return 0
