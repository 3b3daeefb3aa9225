"""``genrescope fourq-eval``: a shipped ONNX model on the labelled 4Q clips (out of FMA).

The model never learned from these clips unless its card says so, so every labelled
clip is held out: this is the "previous model" row of the out-of-FMA block. A model
that learned from 4Q is scored by ``genrescope cv`` instead (out-of-fold), never here.
Whole clips at column-grid phase 0, through onnxruntime like ``genrescope evaluate``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.model.session import GenreModel
from genrescope.stream.engine.config import EngineConfig
from genrescope.training.genre.augment import clip_db
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.fma import load_features
from genrescope.training.genre.fourq import FourQSet, default_fourq_path
from genrescope.training.genre.records import record_out_of_fma
from genrescope.training.genre.setscore import confident_share, in_set, pooled_confidence, set_report
from genrescope.training.settings import ConfigError


def whole_clip_logits(model: GenreModel, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """The model's logits on whole 128-column clips (index images), as the engine sees a full context."""
    floor_db = FrontendSpec().floor_db
    return np.concatenate(
        [model.logits(clip_db(images[i : i + batch_size], floor_db)) for i in range(0, len(images), batch_size)]
    )


def fourq_logits(model: GenreModel, fourq: FourQSet) -> np.ndarray:
    """Whole-clip logits on every clip of ``fourq`` (column-grid phase 0)."""
    return whole_clip_logits(model, fourq.phase_images(np.zeros(len(fourq.songs), int)))


def pooled_unsure_threshold(model: GenreModel, logits: np.ndarray, fourq: FourQSet, data_root: Path) -> dict:
    """The temperature and unsure threshold of a model that learned from neither its FMA
    validation clips nor any 4Q clip, chosen on both (pooled_confidence): its honest
    held-out predictions in each domain."""
    validation = load_features(TrainConfig(data_root=str(data_root))).subset("validation")
    return pooled_confidence(whole_clip_logits(model, validation.images), validation.labels, logits, fourq.sets)


def draw_before_after(block: dict, before: str, path: Path) -> None:
    """The 4Q confusion tables of the model scored here and of every cross-validated recipe
    recorded beside it (out-of-fold), side by side."""
    from genrescope.training.genre.setscore import plot_set_confusion

    reports = {
        f"{before} (never saw 4Q)": block[before],
        **{f"{name} (out of fold)": report for name, report in block.get("cv", {}).get("recipes", {}).items()},
    }
    plot_set_confusion(reports, path, f"4Q labelled clips ({block[before]['n']}): AllMusic set vs answered genre")


def run_fourq_eval(args: argparse.Namespace) -> int:
    fourq = FourQSet.load(args.fourq or default_fourq_path())
    fourq = fourq.rows(fourq.labelled)
    model = GenreModel.load(args.model, threads=args.threads, prefer_gpu=False)
    logits = fourq_logits(model, fourq)
    probabilities = model.calibrated(logits)
    report = {"model": model.card.version, **set_report(probabilities, fourq.sets)}
    threshold = EngineConfig().unsure_below
    report["at_unsure_below"] = {
        "unsure_below": threshold,
        **confident_share(probabilities, in_set(probabilities, fourq.sets), threshold),
    }
    if args.choose_unsure:
        if model.card.training.get("learned_from_validation") or model.card.training.get("fourq_share"):
            raise ConfigError(
                f"{args.model} learned from FMA validation or 4Q: its threshold is chosen by genrescope cv"
            )
        report["confidence"] = pooled_unsure_threshold(model, logits, fourq, args.data_root)
        confidence = report["confidence"]
        shares = "; ".join(
            f"{domain} {confidence[domain]['share_sure']:.0%} sure, right {confidence[domain]['right_when_sure']:.0%} "
            f"(unsure: {confidence[domain]['right_when_unsure']:.0%})"
            for domain in ("fma", "fourq")
        )
        print(
            f"pooled over FMA validation and 4Q: temperature {confidence['temperature']}, "
            f"unsure below {confidence['unsure_below']}: {shares}"
        )
    if args.record:
        metrics = record_out_of_fma(args.record, args.as_name, report)
        if args.figure:
            draw_before_after(metrics["out_of_fma"], args.as_name, args.figure)
    print(
        f"{report['model']} on {report['n']} labelled 4Q clips: set accuracy {report['set_accuracy']:.1%}, "
        f"balanced {report['balanced_set_accuracy']:.1%}; recall "
        + ", ".join(f"{k} {v['recall']:.0%} (n={v['n']})" for k, v in report["per_set_recall"].items())
        + f"; answers {report['answered']}"
    )
    return 0
