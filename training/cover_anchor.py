"""The frozen-feature anchor: logistic regression on ImageNet EfficientNet-Lite0 embeddings.

Reproduces the numbers the fine-tuned model must beat (33.6 % on deduplicated discogs5,
56.4 % on artist-grouped spotify5), as a sanity check of the data handling: if this
anchor came out far higher, a split would be leaking. Reported two ways per set:

* ``test``: fit on train, L2 strength picked on val, scored once on test;
* ``cv5``: grouped, stratified 5-fold cross-validation over all covers of the set.

    PYTHONPATH=. nice -n 10 python -m training.cover_anchor [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.progress import track

from model.cover_net import CoverNet
from model.cover_spec import CoverSpec, preprocess
from training.cover_cache import cached
from training.config import DEFAULT_DATA_ROOT
from training.covers import CoverItem, group_folds, load_splits

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@torch.no_grad()
def embeddings(items: list[CoverItem], size: int, batch: int = 32) -> torch.Tensor:
    """Pooled 1280-d ImageNet features of the plain (uncropped) covers."""
    spec = CoverSpec(size=size)
    net = CoverNet(len(spec.labels), size).eval()
    out = []
    for i in track(range(0, len(items), batch), description="anchor features"):
        x = np.stack([preprocess(Image.open(it.path), spec) for it in items[i:i + batch]])
        out.append(net.embed(net.stem(torch.from_numpy(x))))
    return torch.cat(out)


def fit_logreg(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float) -> torch.nn.Linear:
    """Multinomial logistic regression by full-batch L-BFGS (features standardised by caller)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], n_classes)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y) + l2 * model.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


def score(train_x, train_y, test_x, test_y, n_classes: int, l2: float) -> float:
    """Accuracy of a logistic regression fitted on train, standardised with train stats."""
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    model = fit_logreg((train_x - mu) / sd, train_y, n_classes, l2)
    with torch.no_grad():
        return (model((test_x - mu) / sd).argmax(1) == test_y).float().mean().item()


def anchor_for(splits: dict[str, list[CoverItem]], feats: dict[Path, torch.Tensor]) -> dict:
    """Val-picked L2, then test accuracy and grouped 5-fold CV accuracy for one set."""
    labels = sorted({it.label for it in splits["train"]})

    def xy(items):
        return (torch.stack([feats[it.path] for it in items]),
                torch.tensor([labels.index(it.label) for it in items]))

    tr, va, te = xy(splits["train"]), xy(splits["val"]), xy(splits["test"])
    val_acc = {l2: score(*tr, *va, len(labels), l2) for l2 in L2_GRID}
    l2 = max(val_acc, key=val_acc.get)
    test_acc = score(torch.cat([tr[0], va[0]]), torch.cat([tr[1], va[1]]), *te, len(labels), l2)
    folds = group_folds([it for s in splits.values() for it in s], 5, seed=0)
    cv = [score(*xy([it for j, f in enumerate(folds) if j != i for it in f]), *xy(folds[i]),
                len(labels), l2) for i in range(5)]
    return {"labels": labels, "l2": l2, "val_accuracy_by_l2": val_acc, "test_accuracy": test_acc,
            "cv5_accuracy_mean": float(np.mean(cv)), "cv5_accuracy_std": float(np.std(cv))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA_ROOT))
    parser.add_argument("--size", type=int, default=224, help="input size (224: the backbone's own)")
    parser.add_argument("--out", default="runs/cover")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sets = load_splits(Path(args.data))
    items = [it for s in sets.values() for split in s.values() for it in split]
    x = cached(Path(args.out) / f"anchor_feats_{args.size}.pt", lambda: embeddings(items, args.size))
    feats = {it.path: f for it, f in zip(items, x)}
    result = {name: anchor_for(s, feats) for name, s in sets.items()}
    print(json.dumps(result, indent=2))
    Path(args.out, "anchor.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
