"""Train the cover model on discogs5 + spotify5 (one model over the union of labels).

Recipe (why: docs/cover.md): the ImageNet backbone stays frozen and describes each cover
at two scales (model/cover/cover_net.py); a linear head over the union of labels is fitted on
those descriptors as a multinomial logistic regression (full-batch L-BFGS), its L2
strength chosen by group-wise k-fold cross-validation on the training covers
(artists for spotify5, release ∪ md5 for discogs5), so the validation split stays
unused until the fitted model is scored on it.

One model, per-set objective: each cover's softmax runs over its own data set's labels
only (the other labels are masked out), so the head learns exactly the two
classification tasks the data define and never "which data set does this look like".
At inference the same logits give a distribution over the union (8 genres), or over
one set's labels by renormalising (``CoverModel.predict(..., label_set=...)``).
Each set weighs equally in the loss, whatever its size.

Run it as ``genrescope cover-train`` (settings: ``CoverTrainConfig``, one flag each).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from genrescope.model.cover.cover_net import CoverNet
from genrescope.model.cover.cover_spec import CoverSpec
from genrescope.stream.outputs import written_whole
from genrescope.training.cover.cover_cache import cached, describe_covers
from genrescope.training.cover.cover_config import CoverTrainConfig
from genrescope.training.cover.covers import CoverItem, group_folds, load_splits
from genrescope.training.settings import settings_from_arguments

log = logging.getLogger("genrescope.cover")


@dataclass
class Described:
    """Covers as descriptors, with each one's label index and data-set index."""

    items: list[CoverItem]
    feats: torch.Tensor  # float [n, feature_dim]
    labels: torch.Tensor  # long [n]
    sets: torch.Tensor  # long [n]

    def take(self, index: list[int]) -> Described:
        pick = torch.tensor(index, dtype=torch.long)
        return Described([self.items[i] for i in index], self.feats[pick], self.labels[pick], self.sets[pick])


def described(spec: CoverSpec, items: list[CoverItem], feats: torch.Tensor) -> Described:
    """Descriptors of ``items`` with their label and data-set indices."""
    names = list(spec.label_sets)
    return Described(
        items,
        feats,
        torch.tensor([spec.labels.index(it.label) for it in items]),
        torch.tensor([names.index(it.dataset) for it in items]),
    )


def join(parts: list[Described]) -> Described:
    return Described(
        [it for p in parts for it in p.items],
        torch.cat([p.feats for p in parts]),
        torch.cat([p.labels for p in parts]),
        torch.cat([p.sets for p in parts]),
    )


def set_masks(spec: CoverSpec) -> tuple[list[str], torch.Tensor]:
    """Data-set names and a [n_sets, n_labels] bool mask of each set's labels."""
    names = list(spec.label_sets)
    mask = torch.tensor([[lab in spec.label_sets[n] for lab in spec.labels] for n in names])
    return names, mask


def masked_loss(
    logits: torch.Tensor, labels: torch.Tensor, allowed: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy over each sample's allowed labels, sample-weighted."""
    logp = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
    nll = -logp.gather(1, labels[:, None]).squeeze(1)
    return (weights * nll).sum() / weights.sum()


def set_weights(sets: torch.Tensor) -> torch.Tensor:
    """Per-sample weights that give each data set the same total weight."""
    counts = torch.bincount(sets).float()
    return (1.0 / counts)[sets]


def accuracy_per_set(logits: torch.Tensor, data: Described, mask: torch.Tensor, names: list[str]) -> dict[str, float]:
    """Accuracy of the argmax over each cover's own set's labels, per set present."""
    pred = logits.masked_fill(~mask[data.sets], float("-inf")).argmax(1)
    correct = (pred == data.labels).float()
    return {n: correct[data.sets == i].mean().item() for i, n in enumerate(names) if (data.sets == i).any()}


def fit_linear(
    x: torch.Tensor,
    labels: torch.Tensor,
    allowed: torch.Tensor,
    weights: torch.Tensor,
    l2: float,
    iterations: int = 200,
) -> torch.nn.Linear:
    """Multinomial logistic regression (each sample's softmax over its ``allowed`` labels,
    sample-weighted, L2 on the weights) by full-batch L-BFGS, from a fixed initialisation."""
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], allowed.shape[1])
    opt = torch.optim.LBFGS(model.parameters(), max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = masked_loss(model(x), labels, allowed, weights) + l2 * model.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model.requires_grad_(False)


def standardiser(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (floored) standard deviation per feature, from the fitting rows only."""
    return feats.mean(0), feats.std(0) + 1e-6


def fit_standardisation(net: CoverNet, feats: torch.Tensor) -> torch.Tensor:
    """Set ``net``'s standardisation statistics from ``feats``; returns them standardised
    (once per fold: they do not depend on the L2 being tried)."""
    mean, std = standardiser(feats)
    net.feature_mean.copy_(mean)
    net.feature_std.copy_(std)
    return (feats - mean) / std


def fit_classifier(
    net: CoverNet, x: torch.Tensor, data: Described, mask: torch.Tensor, l2: float, iterations: int
) -> None:
    """The linear head of ``net``, fitted on ``data``'s standardised descriptors ``x``."""
    fitted = fit_linear(x, data.labels, mask[data.sets], set_weights(data.sets), l2, iterations)
    net.classifier.load_state_dict(fitted.state_dict())


def group_splits(data: Described, k: int, seed: int) -> list[tuple[Described, Described]]:
    """(training part, held-out part) for each of k stratified folds of whole groups."""
    position = {it.path: i for i, it in enumerate(data.items)}
    folds = [[position[it.path] for it in fold] for fold in group_folds(data.items, k, seed)]
    return [
        (data.take([i for j, fold in enumerate(folds) if j != held for i in fold]), data.take(folds[held]))
        for held in range(k)
    ]


def choose_l2(
    cfg: CoverTrainConfig, net: CoverNet, data: Described, mask: torch.Tensor, names: list[str]
) -> tuple[float, dict[float, float]]:
    """The L2 with the best mean per-set accuracy over group-wise folds of ``data``."""
    fold_scores: dict[float, list[float]] = {l2: [] for l2 in cfg.l2_grid}
    for train, held_out in group_splits(data, cfg.inner_folds, cfg.seed + 1):
        x = fit_standardisation(net, train.feats)
        for l2 in cfg.l2_grid:
            fit_classifier(net, x, train, mask, l2, cfg.lbfgs_iterations)
            accuracy = accuracy_per_set(net.logits(held_out.feats), held_out, mask, names)
            fold_scores[l2].append(float(np.mean(list(accuracy.values()))))
    scores = {l2: float(np.mean(values)) for l2, values in fold_scores.items()}
    for l2, score in scores.items():
        log.info("L2 %g: grouped %d-fold accuracy %.4f", l2, cfg.inner_folds, score)
    return max(scores, key=scores.get), scores


def fit(cfg: CoverTrainConfig, net: CoverNet, spec: CoverSpec, train: Described) -> dict:
    """The recipe on descriptors: choose the L2 on folds of ``train``, then fit on all of it."""
    names, mask = set_masks(spec)
    l2, scores = choose_l2(cfg, net, train, mask, names)
    fit_classifier(net, fit_standardisation(net, train.feats), train, mask, l2, cfg.lbfgs_iterations)
    return {"l2": l2, "l2_grouped_cv": {str(k): v for k, v in scores.items()}}


def describe_split(
    cfg: CoverTrainConfig,
    net: CoverNet,
    spec: CoverSpec,
    splits: dict[str, dict[str, list[CoverItem]]],
    dataset: str,
    split: str,
) -> Described:
    """Descriptors of one data set's split, cached in the run directory."""
    items = splits[dataset][split]
    path = Path(cfg.run_dir) / f"descriptors_{dataset}_{split}_{'_'.join(map(str, cfg.scales))}.pt"
    feats = cached(path, lambda: describe_covers(net, items, spec, desc=f"{dataset} {split}"))
    if len(feats) != len(items):
        raise ValueError(
            f"{path} holds {len(feats)} descriptors for {len(items)} covers: "
            "written under other split settings; delete it"
        )
    return described(spec, items, feats)


def setup(cfg: CoverTrainConfig) -> tuple[CoverSpec, CoverNet, dict[str, dict[str, list[CoverItem]]]]:
    """The spec, the (untrained) network and the honest splits a run works with."""
    spec = CoverSpec(size=cfg.scales[0])
    return spec, CoverNet(len(spec.labels), scales=cfg.scales), load_splits(Path(cfg.data_root), cfg.splits)


def run(cfg: CoverTrainConfig) -> Path:
    """Train end to end; writes ``run_dir/cover_best.pt`` (weights + spec + val metrics)."""
    spec, net, splits = setup(cfg)
    train, val = (
        join([describe_split(cfg, net, spec, splits, n, s) for n in spec.label_sets]) for s in ("train", "val")
    )
    selection = fit(cfg, net, spec, train)
    names, mask = set_masks(spec)
    val_acc = accuracy_per_set(net.logits(val.feats), val, mask, names)
    log.info("L2 %g, validation %s", selection["l2"], json.dumps(val_acc))
    out = Path(cfg.run_dir) / "cover_best.pt"
    with written_whole(out, "wb") as handle:
        torch.save(
            {"model": net.state_dict(), "spec": spec.to_json(), "config": asdict(cfg), "val": {**val_acc, **selection}},
            handle,
        )
    return out


def start(args: argparse.Namespace) -> CoverTrainConfig:
    """The settings of a cover command's flags; threads, progress logging and the run directory."""
    cfg = settings_from_arguments(args, CoverTrainConfig)
    torch.set_num_threads(cfg.threads)
    log.setLevel(logging.INFO)  # the L2 search and the scores are this command's output
    Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
    return cfg


def run_cover_train(args: argparse.Namespace) -> int:
    """``genrescope cover-train``."""
    print(f"checkpoint: {run(start(args))}")
    return 0
