"""Score the shipped cover model once on each set's test split.

Evaluates the ONNX file through ``CoverModel`` — the exact runtime path, preprocessing
included — and writes:

* ``model/cover_metrics.json``: per set, test accuracy (with a 95 % Wilson interval:
  the spotify5 test split is only ~240 covers from ~20 artists), macro-F1, the
  confusion matrix, and the union top-1 accuracy (argmax over all labels); plus the
  validation numbers and the frozen-feature anchor when ``runs/cover/anchor.json`` exists;
* ``model/cover_confusion_<set>.png``: row-normalised confusion matrices;
* the same metrics into the ONNX metadata (``metrics``);
* ``runs/cover/typical_covers_<set>.png`` — the test covers the model is surest of per
  genre. It shows copyrighted cover art, so it stays outside the repository.

Per-set predictions are the argmax over that set's labels (see model/cover/cover.py). Run it
as ``genrescope cover-evaluate``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from rich.progress import track

from genrescope.model.cover.cover import CoverModel
from genrescope.model.genre.card import update_metadata
from genrescope.model.session import MODEL_DIR
from genrescope.stream.outputs import changed_whole, save_figure
from genrescope.training.cover.covers import CoverItem, load_splits
from genrescope.training.genre.evaluate import classification_report, plot_confusion
from genrescope.training.genre.records import read_record, write_record

METRICS = MODEL_DIR / "cover_metrics.json"


def record_metrics(entries: dict) -> None:
    """Merge ``entries`` into model/cover_metrics.json, keeping what other scripts recorded
    there (this one's test results, the anchor, cover-cv's folds)."""
    write_record(METRICS, {**read_record(METRICS), **entries}, indent=2, end="\n")


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def predict_all(model: CoverModel, items: list[CoverItem], batch: int = 32) -> np.ndarray:
    """Union probabilities for every item: [n, n_labels]."""
    out = [
        model.predict_batch([Image.open(it.path) for it in items[i : i + batch]])
        for i in track(range(0, len(items), batch), description="test predictions")
    ]
    return np.concatenate(out)


def set_metrics(model: CoverModel, name: str, items: list[CoverItem], probs: np.ndarray) -> dict:
    """Accuracy, interval, macro-F1, confusion and union top-1 for one set's test split."""
    labels = model.labels_of(name)
    cols = [model.spec.labels.index(lab) for lab in labels]
    true = np.array([labels.index(it.label) for it in items])
    pred = probs[:, cols].argmax(1)
    report = classification_report(pred, true, labels)
    union_true = np.array([model.spec.labels.index(it.label) for it in items])
    return {
        "labels": list(labels),
        **report,
        "accuracy_95ci": wilson(int((pred == true).sum()), len(items)),
        "union_top1_accuracy": float((probs.argmax(1) == union_true).mean()),
    }


def plot_typical(
    model: CoverModel, name: str, items: list[CoverItem], probs: np.ndarray, out: Path, per_genre: int = 6
) -> None:
    """Grid: per genre, its test covers with the highest P(genre | this set's labels)."""
    labels = model.labels_of(name)
    cols = [model.spec.labels.index(lab) for lab in labels]
    cond = probs[:, cols] / probs[:, cols].sum(1, keepdims=True)
    fig, axes = plt.subplots(len(labels), per_genre, figsize=(per_genre * 1.6, len(labels) * 1.75))
    for r, label in enumerate(labels):
        mine = [i for i, it in enumerate(items) if it.label == label]
        best = sorted(mine, key=lambda i: -cond[i, r])[:per_genre]
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(best):
                ax.imshow(Image.open(items[best[c]].path).convert("RGB"))
                ax.set_title(f"{label} {cond[best[c], r]:.2f}", fontsize=7)
    fig.suptitle(f"{name}: most typical test covers per genre", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out, dpi=80)
    plt.close(fig)


def run_cover_evaluate(args: argparse.Namespace) -> int:
    """``genrescope cover-evaluate``: each set's test split, scored once."""
    model = CoverModel.load(args.model)
    splits = load_splits(args.data_root)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    test = {}
    for name in model.spec.label_sets:
        items = splits[name]["test"]
        probs = predict_all(model, items)
        m = test[name] = set_metrics(model, name, items, probs)
        plot_confusion(
            np.array(m["confusion"]),
            m["labels"],
            MODEL_DIR / f"cover_confusion_{name}.png",
            f"{name}: acc {m['accuracy']:.1%}, macro-F1 {m['macro_f1']:.3f}",
        )
        plot_typical(model, name, items, probs, args.run_dir / f"typical_covers_{name}.png")
    metrics = {
        "version": model.version,
        **model.metrics,
        "test": test,
    }  # the file's own test summary must not replace these
    anchor = args.run_dir / "anchor.json"
    if anchor.exists():
        metrics["anchor_logreg_frozen"] = json.loads(anchor.read_text())
    record_metrics(metrics)
    summary = {n: {k: m[k] for k in ("accuracy", "macro_f1", "union_top1_accuracy")} for n, m in test.items()}
    with changed_whole(args.model) as copy:
        update_metadata(copy, {"metrics": json.dumps({"val": model.metrics.get("val"), "test": summary})})
    print(json.dumps(summary, indent=2))
    return 0
