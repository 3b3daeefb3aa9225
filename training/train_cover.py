"""Fine-tune the cover model on discogs5 + spotify5 (one model over the union of labels).

Recipe (fast.ai's transfer-learning lessons, sized for two shared CPU cores):

1. cache the frozen stem's output for ``views`` augmented views per training cover;
2. train the head alone on frozen pooled features (a good head first, so the
   randomly initialised classifier does not send large gradients into the backbone);
3. unfreeze the tail (last three stages + 1×1 head conv) with discriminative learning
   rates — earlier layers move less — under a one-cycle schedule.

One model, per-set objective: each cover's softmax runs over its own data set's labels
only (the other labels are masked out), so the head learns exactly the two
classification tasks the data define and never "which data set does this look like".
At inference the same logits give a distribution over the union (8 genres), or over
one set's labels by renormalising (``CoverModel.predict(..., label_set=...)``).
Each set weighs equally in the loss, whatever its size.

Selection uses validation covers only (mean of the per-set accuracies); the test split
is left to ``training.eval_cover``.

    PYTHONPATH=. nice -n 10 python -m training.train_cover [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from model.cover_net import DEFAULT_CUT, CoverNet
from model.cover_spec import CoverSpec
from training.cover_cache import cached, stem_cache
from training.config import DEFAULT_DATA_ROOT
from training.covers import CoverItem, SplitConfig, load_splits

log = logging.getLogger("train_cover")


@dataclass
class TrainConfig:
    """Everything that determines a training run."""

    data_root: str = str(DEFAULT_DATA_ROOT)
    out_dir: str = "runs/cover"
    image_size: int = 192
    cut: int = DEFAULT_CUT
    views: int = 6
    head_views: int = 2  # views embedded for the head phase (plain + one augmented: cheap)
    seed: int = 0
    batch_size: int = 64
    label_smoothing: float = 0.1
    head_epochs: int = 25
    head_lr: float = 3e-3
    tune_epochs: int = 10
    # One-cycle peak learning rates: early tail, late tail + head conv, classifier.
    tune_lrs: tuple[float, float, float] = (1e-4, 3e-4, 1e-3)
    weight_decay: float = 1e-2
    splits: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class Batches:
    """Cached stem views plus, per cover, its label index and data-set index."""

    feats: torch.Tensor  # float16 [n, views, C, H, W]
    labels: torch.Tensor  # long [n]
    sets: torch.Tensor  # long [n]


def set_masks(spec: CoverSpec) -> tuple[list[str], torch.Tensor]:
    """Data-set names and a [n_sets, n_labels] bool mask of each set's labels."""
    names = list(spec.label_sets)
    mask = torch.tensor([[lab in spec.label_sets[n] for lab in spec.labels] for n in names])
    return names, mask


def masked_loss(logits: torch.Tensor, labels: torch.Tensor, allowed: torch.Tensor,
                weights: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Label-smoothed cross-entropy over each sample's allowed labels, sample-weighted."""
    logp = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
    nll = -logp.gather(1, labels[:, None]).squeeze(1)
    smooth = -torch.where(allowed, logp, 0.0).sum(1) / allowed.sum(1)
    per_sample = (1 - smoothing) * nll + smoothing * smooth
    return (weights * per_sample).sum() / weights.sum()


def set_weights(sets: torch.Tensor) -> torch.Tensor:
    """Per-sample weights that give each data set the same total weight."""
    counts = torch.bincount(sets).float()
    return (1.0 / counts)[sets]


def accuracy_per_set(logits: torch.Tensor, data: Batches, mask: torch.Tensor,
                     names: list[str]) -> dict[str, float]:
    """Accuracy of the argmax over each cover's own set's labels, per set."""
    pred = logits.masked_fill(~mask[data.sets], float("-inf")).argmax(1)
    correct = (pred == data.labels).float()
    return {n: correct[data.sets == i].mean().item() for i, n in enumerate(names)}


def batches(spec: CoverSpec, items: list[CoverItem], feats: torch.Tensor) -> Batches:
    """Cached stem views of ``items`` with their label and data-set indices."""
    names = list(spec.label_sets)
    return Batches(feats, torch.tensor([spec.labels.index(it.label) for it in items]),
                   torch.tensor([names.index(it.dataset) for it in items]))


def prepare(cfg: TrainConfig, net: CoverNet, spec: CoverSpec) -> tuple[Batches, Batches]:
    """Cached train (all views) and val (plain view) batches."""
    splits = load_splits(Path(cfg.data_root), cfg.splits)
    out = []
    for split, views in (("train", cfg.views), ("val", 1)):
        items = [it for n in spec.label_sets for it in splits[n][split]]
        path = Path(cfg.out_dir) / f"cache_{split}_{cfg.image_size}_{cfg.cut}_{views}.pt"
        feats = cached(path, lambda: stem_cache(net, items, views, spec, cfg.seed,
                                                desc=f"stem cache {split}"))
        out.append(batches(spec, items, feats))
    return out[0], out[1]


@torch.no_grad()
def embed_all(net: CoverNet, feats: torch.Tensor, batch: int = 128) -> torch.Tensor:
    """Frozen tail embeddings of cached maps [n, C, H, W] → [n, 1280]."""
    net.eval()
    return torch.cat([net.embed(feats[i:i + batch].float())
                      for i in track(range(0, len(feats), batch), description="embedding")])


def train_head(cfg: TrainConfig, net: CoverNet, train: Batches, val: Batches,
               mask: torch.Tensor, names: list[str]) -> dict[str, float]:
    """Phase 1: the classifier alone on frozen embeddings of every cached view."""
    v = min(cfg.head_views, train.feats.shape[1])
    emb = cached(Path(cfg.out_dir) / f"emb_train_{cfg.image_size}_{cfg.cut}_{v}.pt",
                 lambda: embed_all(net, train.feats[:, :v].flatten(0, 1)))
    val_emb = embed_all(net, val.feats[:, 0])
    labels, sets = train.labels.repeat_interleave(v), train.sets.repeat_interleave(v)
    weights = set_weights(sets)
    opt = torch.optim.AdamW(net.classifier.parameters(), lr=cfg.head_lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_state, best_acc = -1.0, None, {}
    for epoch in range(cfg.head_epochs):
        net.classifier.train()
        for idx in torch.randperm(len(emb), generator=gen).split(cfg.batch_size * 4):
            loss = masked_loss(net.classifier(emb[idx]), labels[idx], mask[sets[idx]],
                               weights[idx], cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.classifier.eval()
        with torch.no_grad():
            acc = accuracy_per_set(net.classifier(val_emb), val, mask, names)
        score = float(np.mean(list(acc.values())))
        log.info("head epoch %d val %s", epoch, json.dumps(acc))
        if score > best:
            best, best_state = score, {k: t.clone() for k, t in net.classifier.state_dict().items()}
            best_acc = acc
    net.classifier.load_state_dict(best_state)
    return best_acc


def tune_optimizer(cfg: TrainConfig, net: CoverNet, steps: int):
    """AdamW with one parameter group per depth, and a one-cycle schedule over them."""
    groups = [{"params": ps, "lr": lr} for ps, lr in zip(net.param_groups(), cfg.tune_lrs)]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=list(cfg.tune_lrs), total_steps=steps,
                                                pct_start=0.3)
    return opt, sched


@torch.no_grad()
def val_logits(net: CoverNet, val: Batches, batch: int = 128) -> torch.Tensor:
    net.eval()
    return torch.cat([net.logits(val.feats[i:i + batch, 0].float())
                      for i in range(0, len(val.labels), batch)])


def tune(cfg: TrainConfig, net: CoverNet, train: Batches, val: Batches, mask: torch.Tensor,
         names: list[str]) -> tuple[dict[str, float], int]:
    """Phase 2: tail + classifier, one random cached view per cover and epoch; resumable."""
    ckpt_path = Path(cfg.out_dir) / "tune_ckpt.pt"
    n, v = train.feats.shape[:2]
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    opt, sched = tune_optimizer(cfg, net, steps_per_epoch * cfg.tune_epochs)
    state = {"epoch": 0, "best": -1.0, "best_acc": {}, "best_epoch": -1, "best_model": None}
    if ckpt_path.exists():
        saved = torch.load(ckpt_path)
        net.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        state = saved["state"]
        log.info("resumed at epoch %d", state["epoch"])
    weights = set_weights(train.sets)
    for epoch in range(state["epoch"], cfg.tune_epochs):
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        order = torch.randperm(n, generator=gen)
        view = torch.randint(0, v, (n,), generator=gen)
        net.train()
        losses = []
        for idx in track(order.split(cfg.batch_size), description=f"tune epoch {epoch}"):
            logits = net.logits(train.feats[idx, view[idx]].float())
            loss = masked_loss(logits, train.labels[idx], mask[train.sets[idx]], weights[idx],
                               cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        acc = accuracy_per_set(val_logits(net, val), val, mask, names)
        score = float(np.mean(list(acc.values())))
        log.info("tune epoch %d loss %.4f val %s", epoch, np.mean(losses), json.dumps(acc))
        if score > state["best"]:
            state.update(best=score, best_acc=acc, best_epoch=epoch,
                         best_model={k: t.clone() for k, t in net.state_dict().items()})
        state["epoch"] = epoch + 1
        torch.save({"model": net.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "state": state}, ckpt_path)
    net.load_state_dict(state["best_model"])
    return state["best_acc"], state["best_epoch"]


def fit(cfg: TrainConfig, net: CoverNet, spec: CoverSpec, train: Batches, val: Batches
        ) -> tuple[dict[str, float], dict[str, float], int]:
    """The recipe on cached stem views: head alone, then the tail; returns the head's and
    the fine-tune's validation accuracies and the fine-tune's best epoch (loaded in ``net``)."""
    names, mask = set_masks(spec)
    net.requires_grad_(False)
    net.classifier.requires_grad_(True)
    head_acc = train_head(cfg, net, train, val, mask, names)
    log.info("head-only best val %s", json.dumps(head_acc))
    for group in net.param_groups():
        for p in group:
            p.requires_grad_(True)  # the stem stays frozen: its outputs are cached
    tune_acc, best_epoch = tune(cfg, net, train, val, mask, names)
    log.info("fine-tuned best val %s (epoch %d)", json.dumps(tune_acc), best_epoch)
    return head_acc, tune_acc, best_epoch


def run(cfg: TrainConfig) -> Path:
    """Train end to end; writes ``out_dir/cover_best.pt`` (weights + spec + val metrics)."""
    torch.manual_seed(cfg.seed)
    spec = CoverSpec(size=cfg.image_size)
    net = CoverNet(len(spec.labels), cfg.image_size, cfg.cut)
    train, val = prepare(cfg, net, spec)
    head_acc, tune_acc, best_epoch = fit(cfg, net, spec, train, val)
    out = Path(cfg.out_dir) / "cover_best.pt"
    torch.save({"model": net.state_dict(), "spec": spec.to_json(), "config": asdict(cfg),
                "val": {"head_only": head_acc, "fine_tuned": tune_acc, "best_epoch": best_epoch}},
               out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=TrainConfig.data_root, help="shared data root")
    parser.add_argument("--out", default=TrainConfig.out_dir, help="run directory (caches, checkpoints)")
    parser.add_argument("--tune-epochs", type=int, default=TrainConfig.tune_epochs)
    parser.add_argument("--views", type=int, default=TrainConfig.views)
    parser.add_argument("--head-views", type=int, default=TrainConfig.head_views)
    parser.add_argument("--tune-lrs", type=float, nargs=3, default=TrainConfig.tune_lrs,
                        help="one-cycle peak rates: early tail, late tail, classifier")
    parser.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay)
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = TrainConfig(data_root=args.data, out_dir=args.out, tune_epochs=args.tune_epochs,
                      views=args.views, head_views=args.head_views, tune_lrs=tuple(args.tune_lrs),
                      weight_decay=args.weight_decay)
    Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
    print(run(cfg))


if __name__ == "__main__":
    main()
