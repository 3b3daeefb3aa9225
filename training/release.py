"""``genrescope export``: a training checkpoint → the shipped ONNX model with its card.

The float export is checked against torch (parity), then, by default, quantized to int8
(``model/quantize.py``) with ranges calibrated on training clips. The temperature that
calibrates the probabilities is fitted on the *validation* split (never test) with the
file that ships, and stored in its card, so every consumer gets calibrated probabilities
without knowing about it. The card also records both precisions' validation accuracy:
the evidence for shipping int8.

A final model that also learned from validation (``train --include-validation``) has no
held-out split left to calibrate on: ``--calibration-from`` names the same recipe's
export trained without validation, whose temperature and validation-chosen clip method
it takes over (see ``inherited_calibration``).
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
from genrescope.training.evaluate import CLIP_METHODS, window_logits
from genrescope.training.fma import GENRES, FeatureSet, load_features
from genrescope.training.settings import ConfigError
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
    counts = {split: f"{int((data.splits == split).sum()):,} tracks" for split in ("training", "validation")}
    if config.include_validation:
        learned = {"trained_on": f"training + validation ({int(np.isin(data.splits, list(counts)).sum()):,} tracks)",
                   "selected_on": "nothing held out: the last epoch's weight average"}
    else:
        learned = {"trained_on": f"training ({counts['training']})", "selected_on": f"validation ({counts['validation']})"}
    return ModelCard(
        labels=GENRES, frontend=FrontendSpec(), version=version,
        architecture={"name": "GenreCRNN", **model.config.to_dict(), "precision": precision,
                      "parameters": sum(p.numel() for p in model.parameters())},
        training={"data": f"FMA-small ({config.source}), official split", **learned,
                  "learned_from_validation": config.include_validation,
                  "selection_record": checkpoint["selected_on"],
                  "config": checkpoint["train_config"]},
    )


def inherited_calibration(reference: Path) -> dict:
    """The temperature and clip method a final model takes from ``reference``: the same
    recipe trained without validation, exported and evaluated (its card holds both).

    Why this is sound: the temperature measures how over- or under-confident the recipe
    is on new artists, which more data barely moves; for the shipped recipe the
    validation fit (0.86) equals the fit on all 7,194 out-of-fold cross-validation clips.
    """
    card = GenreModel.load(reference, threads=1, prefer_gpu=False).card
    if card.training.get("learned_from_validation") or "validation" not in card.metrics:
        raise ConfigError(f"{reference} is not an evaluated export trained without validation; "
                         "--calibration-from needs one (genrescope export, then genrescope evaluate)")
    scores = card.metrics["validation"]
    return {"temperature": card.temperature,
            "clip_method": max(CLIP_METHODS, key=lambda name: scores[name]["accuracy"]),
            "calibrated_on": f"validation, through {card.version} (the same recipe trained without it)"}


def write_model(model: torch.nn.Module, card: ModelCard, data: FeatureSet, precision: str, out: Path,
                validation: FeatureSet | None) -> tuple[float, dict[str, float], np.ndarray | None]:
    """Export (float32, parity-checked), quantize when asked, and score each on
    ``validation`` when the model has not learned from it.

    Returns the parity difference, validation accuracy per precision, and the shipped
    file's validation logits (for the temperature); no scores without ``validation``.
    """
    accuracies: dict[str, float] = {}
    logits = None
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / "float32.onnx"
        difference = export_genre_model(model, card, float_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        if precision == "int8":
            quantize_genre_model(float_path, out, calibration_windows(data, card.frontend.floor_db))
        else:
            shutil.copyfile(float_path, out)
        scored = {"float32": float_path, precision: out}  # the shipped file last: its logits are returned
        for name, path in scored.items() if validation is not None else ():
            accuracy, logits = validation_accuracy(path, validation)
            accuracies[name] = round(accuracy, 4)
    return difference, accuracies, logits


def run_export(args: argparse.Namespace) -> int:
    model, checkpoint = load_checkpoint_model(args.checkpoint)
    config = run_config(checkpoint, args.data_root)
    if config.include_validation != (args.calibration_from is not None):
        raise ConfigError("a checkpoint that learned from validation needs --calibration-from (its recipe's export "
                         "trained without validation), and only such a checkpoint takes it")
    data = load_features(config)
    card = describe(model, checkpoint, config, data, args.version, args.precision)
    validation = None if config.include_validation else data.subset("validation")
    difference, accuracies, logits = write_model(model, card, data, args.precision, args.out, validation)
    if validation is None:
        calibration = inherited_calibration(args.calibration_from)
        temperature = calibration.pop("temperature")
        training = {**card.training, **calibration}
    else:
        temperature = fit_temperature(logits, validation.labels)
        training = {**card.training, "calibrated_on": "validation", "validation_accuracy_by_precision": accuracies}
    update_card(args.out, replace(card, temperature=temperature, training=training))
    print(f"wrote {args.out} ({args.precision}, {args.out.stat().st_size / 1e6:.1f} MB); temperature "
          f"{temperature:.3f} (fitted on {training['calibrated_on']}); torch vs onnxruntime float32 max |diff| "
          f"{difference:.1e}" + "".join(f"; validation accuracy {k} {v:.1%}" for k, v in accuracies.items()))
    return 0
