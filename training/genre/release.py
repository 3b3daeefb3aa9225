"""``genrescope export``: a training checkpoint → the shipped ONNX model with its card.

The float export is checked against torch (parity), then, by default, quantized to int8
(``model/genre/quantize.py``) with ranges calibrated on training clips. The temperature that
calibrates the probabilities is fitted on the *validation* split (never test) with the
file that ships, and stored in its card, so every consumer gets calibrated probabilities
without knowing about it. The card also records both precisions' validation accuracy,
the evidence for shipping int8, and how often they agree on the top genre.

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

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.model.genre.card import ModelCard, update_card
from genrescope.model.genre.export import export_genre_model
from genrescope.model.genre.quantize import quantize_genre_model
from genrescope.model.session import GenreModel
from genrescope.stream.outputs import replacing
from genrescope.training.genre.augment import clip_db
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.evaluate import best_clip_method, window_logits
from genrescope.training.genre.fma import GENRES, FeatureSet, load_features
from genrescope.training.genre.train import load_checkpoint_model, run_config
from genrescope.training.settings import ConfigError

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


def validation_logits(path: Path, validation: FeatureSet) -> np.ndarray:
    """Whole-clip logits of an exported file on the validation clips."""
    model = GenreModel.load(path, threads=2, prefer_gpu=False)
    return window_logits(model, validation.images, validation.images.shape[1], 1)[0]


def describe(
    model: torch.nn.Module, checkpoint: dict, config: TrainConfig, data: FeatureSet, version: str, precision: str
) -> ModelCard:
    """The card of an export, before its temperature is known."""
    learned = list(config.learned_splits)
    selected_on = (
        "nothing held out: the last epoch's weight average"
        if config.include_validation
        else f"validation ({int((data.splits == 'validation').sum()):,} tracks)"
    )
    return ModelCard(
        labels=GENRES,
        frontend=FrontendSpec(),
        version=version,
        architecture={
            "name": "GenreCRNN",
            **model.config.to_dict(),
            "precision": precision,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        training={
            "data": f"FMA-small ({config.source}), official split",
            "trained_on": f"{' + '.join(learned)} ({int(np.isin(data.splits, learned).sum()):,} tracks)",
            "selected_on": selected_on,
            "learned_from_validation": config.include_validation,
            "selection_record": checkpoint["selected_on"],
            "config": checkpoint["train_config"],
        },
    )


def inherited_calibration(reference: Path) -> dict:
    """The temperature and clip method a final model takes from ``reference``: the same
    recipe trained without validation, exported and evaluated (its card holds both).

    Why this is sound: the temperature measures how over- or under-confident the recipe
    is on new artists, and that is a property of the recipe more than of the data
    amount: for the shipped recipe, the train-only run fitted on validation and the CV
    fold models fitted on their 7,194 out-of-fold clips (``genrescope cv``) both give 0.86.
    """
    card = GenreModel.load(reference, threads=1, prefer_gpu=False).card
    if card.training.get("learned_from_validation") or "validation" not in card.metrics:
        raise ConfigError(
            f"{reference} is not an evaluated export trained without validation; "
            "--calibration-from needs one (genrescope export, then genrescope evaluate)"
        )
    return {
        "temperature": card.temperature,
        "clip_method": best_clip_method(card.metrics["validation"]),
        "calibrated_on": f"validation, through {card.version} (the same recipe trained without it)",
    }


def write_model(
    model: torch.nn.Module, card: ModelCard, data: FeatureSet, precision: str, out: Path
) -> tuple[float, dict[str, np.ndarray]]:
    """Export (float32, parity-checked) and quantize when asked; returns the parity
    difference and each precision's logits on the validation clips (the shipped file's
    last), for the temperature and the checks of ``precision_report``."""
    validation = data.subset("validation")
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / "float32.onnx"
        difference = export_genre_model(model, card, float_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        if precision == "int8":
            quantize_genre_model(float_path, out, calibration_windows(data, card.frontend.floor_db))
        else:
            shutil.copyfile(float_path, out)
        return difference, {
            name: validation_logits(path, validation) for name, path in {"float32": float_path, precision: out}.items()
        }


def precision_report(logits: dict[str, np.ndarray], labels: np.ndarray, held_out: bool) -> dict:
    """How the precisions compare on the validation clips: their top-1 agreement always
    (a check of the quantization), their accuracy only where validation was held out."""
    top = [value.argmax(1) for value in logits.values()]
    report = {"validation_top1_agreement_int8_float32": round(float((top[0] == top[-1]).mean()), 4)}
    if held_out:
        report["validation_accuracy_by_precision"] = {
            name: round(float((value.argmax(1) == labels).mean()), 4) for name, value in logits.items()
        }
    return report


def run_export(args: argparse.Namespace) -> int:
    model, checkpoint = load_checkpoint_model(args.checkpoint)
    config = run_config(checkpoint, args.data_root)
    if config.include_validation != (args.calibration_from is not None):
        raise ConfigError(
            "a checkpoint that learned from validation needs --calibration-from (its recipe's export "
            "trained without validation), and only such a checkpoint takes it"
        )
    inherited = inherited_calibration(args.calibration_from) if config.include_validation else None
    data = load_features(config)
    card = describe(model, checkpoint, config, data, args.version, args.precision)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(args.out) as out:  # the model file changes once, its final card in it
        difference, logits = write_model(model, card, data, args.precision, out)
        labels = data.labels[data.splits == "validation"]
        training = {**card.training, **precision_report(logits, labels, held_out=inherited is None)}
        if inherited is not None:
            temperature = inherited.pop("temperature")
            training.update(inherited)
        else:
            temperature = fit_temperature(logits[args.precision], labels)
            training["calibrated_on"] = "validation"
        update_card(out, replace(card, temperature=temperature, training=training))
    print(
        f"wrote {args.out} ({args.precision}, {args.out.stat().st_size / 1e6:.1f} MB); temperature "
        f"{temperature:.3f} (fitted on {training['calibrated_on']}); torch vs onnxruntime float32 max |diff| "
        f"{difference:.1e}; int8/float32 top-1 agreement on validation "
        f"{training['validation_top1_agreement_int8_float32']:.1%}"
        + "".join(
            f"; validation accuracy {k} {v:.1%}"
            for k, v in training.get("validation_accuracy_by_precision", {}).items()
        )
    )
    return 0
