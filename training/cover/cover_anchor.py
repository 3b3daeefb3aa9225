"""The frozen-feature anchor: logistic regression on ImageNet EfficientNet-Lite0 embeddings.

Reproduces the numbers the cover model must beat (33.6 % on deduplicated discogs5,
56.4 % on artist-grouped spotify5), as a sanity check of the data handling: if this
anchor came out far higher, a split would be leaking. Reported two ways per set:

* ``test``: fit on train, L2 strength picked on val, scored once on test;
* ``cv5``: grouped, stratified 5-fold cross-validation over all covers of the set.

Run it as ``genrescope cover-anchor``; it writes ``RUN_DIR/anchor.json``, which
``cover-evaluate`` copies into the model's metrics.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from genrescope.model.cover.cover_net import CoverNet
from genrescope.model.cover.cover_spec import CoverSpec
from genrescope.stream.outputs import write_text_whole
from genrescope.training.cover.cover_cache import cached, describe_covers
from genrescope.training.cover.covers import CoverItem, group_folds, load_splits
from genrescope.training.cover.train_cover import fit_linear, standardiser

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


def embeddings(items: list[CoverItem], size: int, batch: int = 32) -> torch.Tensor:
    """Pooled 1280-d ImageNet features of the plain (uncropped) covers."""
    spec = CoverSpec(size=size)
    net = CoverNet(len(spec.labels), scales=(size,), taps=())  # the pooled embedding alone
    return describe_covers(net, items, spec, batch, desc="anchor features")


def score(train_x, train_y, test_x, test_y, n_classes: int, l2: float) -> float:
    """Accuracy of a logistic regression fitted on train, standardised with train stats."""
    mu, sd = standardiser(train_x)
    everywhere = torch.ones(len(train_y), n_classes, dtype=torch.bool)
    model = fit_linear((train_x - mu) / sd, train_y, everywhere, torch.ones(len(train_y)), l2)
    with torch.no_grad():
        return (model((test_x - mu) / sd).argmax(1) == test_y).float().mean().item()


def anchor_for(splits: dict[str, list[CoverItem]], feats: dict[Path, torch.Tensor]) -> dict:
    """Val-picked L2, then test accuracy and grouped 5-fold CV accuracy for one set."""
    labels = sorted({it.label for it in splits["train"]})

    def xy(items):
        return (torch.stack([feats[it.path] for it in items]), torch.tensor([labels.index(it.label) for it in items]))

    tr, va, te = xy(splits["train"]), xy(splits["val"]), xy(splits["test"])
    val_acc = {l2: score(*tr, *va, len(labels), l2) for l2 in L2_GRID}
    l2 = max(val_acc, key=val_acc.get)
    test_acc = score(torch.cat([tr[0], va[0]]), torch.cat([tr[1], va[1]]), *te, len(labels), l2)
    folds = group_folds([it for s in splits.values() for it in s], 5, seed=0)
    cv = [
        score(*xy([it for j, f in enumerate(folds) if j != i for it in f]), *xy(folds[i]), len(labels), l2)
        for i in range(5)
    ]
    return {
        "labels": labels,
        "l2": l2,
        "val_accuracy_by_l2": val_acc,
        "test_accuracy": test_acc,
        "cv5_accuracy_mean": float(np.mean(cv)),
        "cv5_accuracy_std": float(np.std(cv)),
    }


def run_cover_anchor(args: argparse.Namespace) -> int:
    """``genrescope cover-anchor``."""
    torch.set_num_threads(args.threads)
    sets = load_splits(args.data_root)
    items = [it for s in sets.values() for split in s.values() for it in split]
    x = cached(args.run_dir / f"anchor_feats_{args.size}.pt", lambda: embeddings(items, args.size))
    feats = {it.path: f for it, f in zip(items, x, strict=True)}
    result = {name: anchor_for(s, feats) for name, s in sets.items()}
    print(json.dumps(result, indent=2))
    write_text_whole(args.run_dir / "anchor.json", json.dumps(result, indent=2))
    return 0
