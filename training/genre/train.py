"""Train the genre CRNN: seeded, checkpointed every epoch, resumable, selected on validation.

The run directory holds ``config.yaml``, ``last.pt`` (resume point), ``best.pt`` (the
epoch and weights — raw or exponentially averaged — with the best validation clip
accuracy) and
``history.jsonl`` (one line per epoch). Re-running the same command resumes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from genrescope.model.frontend.frontend_torch import default_device
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.model.genre.crnn import CRNNConfig, GenreCRNN
from genrescope.stream.outputs import written_whole
from genrescope.training.genre.augment import (
    clip_db,
    crop_columns,
    crop_seconds,
    fourq_rows_per_batch,
    set_balanced_weights,
    training_batch,
    with_fourq,
)
from genrescope.training.genre.bandwidth import measured_top_band
from genrescope.training.genre.config import TrainConfig, from_arguments
from genrescope.training.genre.fma import GENRES, FeatureSet, load_features, training_tracks
from genrescope.training.genre.fourq import FourQSet
from genrescope.training.genre.teacher import SideTargets, side_targets

log = logging.getLogger(__name__)
EMA_DECAY = 0.998  # ≈ the last 500 steps (2.5 epochs) of weights


def resolve_device(name: str) -> torch.device:
    return default_device() if name == "auto" else torch.device(name)


def build_model(config: TrainConfig) -> GenreCRNN:
    model = GenreCRNN(CRNNConfig(n_classes=len(GENRES), band_limit_hz=config.band_limit_hz))
    if config.pretrained:
        from genrescope.model.genre.efficientnet_lite import imagenet_weights_path

        model.cnn.load_imagenet_weights(imagenet_weights_path())
    return model


def make_optimizer(model: GenreCRNN, config: TrainConfig, extra: nn.Module | None = None) -> torch.optim.Optimizer:
    """AdamW with a slower learning rate for the pretrained CNN than for the new layers
    (``extra``, the training-only heads, count as new layers)."""
    backbone = list(model.cnn.parameters())
    ids = {id(p) for p in backbone}
    head = [p for p in model.parameters() if id(p) not in ids] + ([] if extra is None else list(extra.parameters()))
    return torch.optim.AdamW(
        [{"params": backbone, "lr_scale": config.backbone_lr_scale}, {"params": head, "lr_scale": 1.0}],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )


def learning_rate(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def clip_logits(
    model: nn.Module, images: np.ndarray, device: torch.device, floor_db: float, batch_size: int = 64
) -> np.ndarray:
    """Logits for whole clips (all 128 columns, referenced to the clip's sampled maximum)."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = clip_db(images[i : i + batch_size], floor_db)
        out.append(model(torch.from_numpy(x).to(device)).float().cpu().numpy())
    return np.concatenate(out)


def _validate(model: nn.Module, data: FeatureSet, device: torch.device, floor_db: float) -> tuple[float, float]:
    """Clip-level accuracy and loss on the validation split."""
    logits = clip_logits(model, data.images, device, floor_db)
    loss = nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(data.labels))
    return float((logits.argmax(1) == data.labels).mean()), float(loss)


def _soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def _soften(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(log p / T): the teacher's probabilities at the distillation temperature."""
    return torch.softmax(torch.log(probabilities.clamp_min(1e-8)) / temperature, dim=1)


def set_loss(logits: torch.Tensor, sets: torch.Tensor) -> torch.Tensor:
    """−log Σ_{g ∈ set} p(g): the clip's genre is one of its set, which one is not known."""
    inside = logits.masked_fill(~sets, float("-inf")).logsumexp(dim=1)
    return (logits.logsumexp(dim=1) - inside).mean()


def batch_loss(
    model: GenreCRNN,
    embedding_head: nn.Module | None,
    x: torch.Tensor,
    y: torch.Tensor,
    side: torch.Tensor | None,
    config: TrainConfig,
    sets: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy on the FMA labels, plus, with side targets (``SideTargets.stacked``),
    distillation from the VGGish teacher and from the ensemble (both T²-scaled, so their
    gradients keep their size across temperatures) and the embedding regression; with
    ``sets``, the last ``len(sets)`` rows of ``x`` are 4Q crops, learned with the set loss
    (they have no side targets)."""
    pooled = model.pooled(x)
    logits = model.head(pooled)
    fma = len(y)
    loss = _soft_cross_entropy(logits[:fma], y)
    if sets is not None:
        loss = loss + config.fourq_weight * set_loss(logits[fma:], sets)
    if side is None:
        return loss
    teacher, ensemble, embedding = SideTargets.split(side, logits.shape[1])
    t = config.distill_temperature
    for weight, probabilities in ((config.distill_weight, teacher), (config.ensemble_weight, ensemble)):
        if weight > 0:
            loss = loss + weight * t * t * _soft_cross_entropy(logits[:fma] / t, _soften(probabilities, t))
    if embedding_head is not None:
        loss = loss + config.embedding_weight * nn.functional.mse_loss(embedding_head(pooled[:fma]), embedding)
    return loss


def ensemble_probabilities(
    checkpoints: tuple[str, ...], images: np.ndarray, device: torch.device, floor_db: float
) -> np.ndarray:
    """The averaged whole-clip probabilities of networks trained on these same clips (other
    seeds of the recipe): what a seed ensemble knows, as targets for one network. They are
    in-sample predictions, as in ordinary distillation, so a teacher that saw a held-out
    clip would leak it: a cv recipe names the fold's own runs."""
    from genrescope.model.session import softmax

    probabilities = []
    for path in map(Path, checkpoints):
        if not path.exists():
            hint = " ({cv} and {fold} are filled in by genrescope cv only)" if "{" in str(path) else ""
            raise FileNotFoundError(f"{path}: no such ensemble teacher checkpoint{hint}")
        probabilities.append(softmax(checkpoint_clip_logits(path, images, device, floor_db)))
    return np.mean(probabilities, axis=0).astype(np.float32)


def checkpoint_clip_logits(path: Path, images: np.ndarray, device: torch.device, floor_db: float) -> np.ndarray:
    """Whole-clip logits of the network weights a checkpoint holds under ``model`` (the
    raw weights of a ``last.pt``, the selected ones of a ``best.pt``), built with the
    architecture it recorded."""
    checkpoint = torch.load(path, map_location=device, weights_only=False)
    model = GenreCRNN(CRNNConfig.from_dict(checkpoint.get("crnn_config", {"n_classes": len(GENRES)}))).to(device)
    model.load_state_dict(checkpoint["model"])
    return clip_logits(model, images, device, floor_db)


def train(config: TrainConfig) -> Path:
    """Run (or resume) training on the official split (and every labelled 4Q clip when the
    recipe learns from 4Q); returns the path of the checkpoint to export (the best
    validation epoch, or the last when validation is learned from)."""
    features = load_features(config)
    held_out = None if config.include_validation else features.subset("validation")
    fourq = FourQSet.load(config.resolved_fourq_path) if config.fourq_share > 0 else None
    return fit(config, training_tracks(features, config), held_out, fourq)


def fit(config: TrainConfig, train_set: FeatureSet, val_set: FeatureSet | None, fourq: FourQSet | None = None) -> Path:
    """Train on ``train_set`` (and, with ``config.fourq_share``, the labelled 4Q clips of
    ``fourq``), scoring every epoch on ``val_set`` (the official validation split, or a
    held-out cross-validation fold); resumes from the run directory. Without ``val_set``
    nothing can select an epoch: the last epoch's weight average is kept."""
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / "config.yaml")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    spec = FrontendSpec()
    log.info(
        "data: %d training, %d validation tracks; device %s",
        len(train_set.labels),
        0 if val_set is None else len(val_set.labels),
        device,
    )

    side = None
    if config.uses_side_targets:
        targets = side_targets(
            config.data_root, train_set.track_ids, train_set.labels, train_set.artists, len(GENRES), config.seed
        )
        if config.ensemble_weight > 0:
            targets.ensemble = ensemble_probabilities(config.ensemble_teachers, train_set.images, device, spec.floor_db)
            log.info(
                "ensemble teachers: %.1f%% right on the training clips (in-sample)",
                100 * (targets.ensemble.argmax(1) == train_set.labels).mean(),
            )
        side = targets.stacked()
    fourq_rows = fourq_rows_per_batch(config)
    if fourq_rows:
        fourq = fourq.rows(fourq.labelled)
        top_bands = measured_top_band(fourq.grids, fourq.frames)
        draw_weights = set_balanced_weights(fourq) if config.fourq_balanced else None  # once, not per batch
        log.info(
            "4Q: %d labelled clips, %d per batch beside %d FMA clips; measured bandwidth %d-%d bands (median %d)",
            len(fourq.songs),
            fourq_rows,
            config.batch_size,
            top_bands.min(),
            top_bands.max(),
            np.median(top_bands),
        )
    model = build_model(config).to(device)
    embedding_head = (
        nn.Linear(model.pooled_width, targets.embedding.shape[1]).to(device)
        if side is not None and config.embedding_weight > 0
        else None
    )
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(EMA_DECAY), use_buffers=True)
    optimizer = make_optimizer(model, config, embedding_head)
    steps_per_epoch = len(train_set.labels) // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    warmup = int(config.warmup_epochs * steps_per_epoch)
    state = {
        "epoch": 0,
        "step": 0,
        "best_accuracy": -1.0,
        "rng": np.random.default_rng(config.seed).bit_generator.state,
    }

    last = run_dir / "last.pt"
    if last.exists():
        checkpoint = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(checkpoint["model"])
        ema.load_state_dict(checkpoint["ema"])
        if embedding_head is not None:
            embedding_head.load_state_dict(checkpoint["embedding_head"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = checkpoint["state"]
        log.info("resuming %s at epoch %d", last, state["epoch"])
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]

    for epoch in range(state["epoch"], config.epochs):
        started = time.time()
        model.train()
        order = rng.permutation(len(train_set.labels))
        losses = []
        with Progress(transient=True) as progress:
            task = progress.add_task(f"epoch {epoch + 1}/{config.epochs}", total=steps_per_epoch)
            for b in range(steps_per_epoch):
                pick = order[b * config.batch_size : (b + 1) * config.batch_size]
                length = crop_columns(crop_seconds(config, rng), spec.column_seconds, spec.context_columns)
                x, y, side_batch = training_batch(
                    train_set.images[pick],
                    train_set.labels[pick],
                    config,
                    length,
                    spec.floor_db,
                    len(GENRES),
                    rng,
                    None if side is None else side[pick],
                )
                sets = None
                if fourq_rows:
                    x, sets = with_fourq(
                        x, fourq, top_bands, fourq_rows, length, config, spec.floor_db, rng, draw_weights
                    )
                lr = learning_rate(state["step"], total_steps, warmup, config.lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr * group["lr_scale"]
                loss = batch_loss(
                    model,
                    embedding_head,
                    torch.from_numpy(x).to(device),
                    torch.from_numpy(y).to(device),
                    None if side_batch is None else torch.from_numpy(side_batch).to(device),
                    config,
                    None if sets is None else torch.from_numpy(sets).to(device),
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                ema.update_parameters(model)
                state["step"] += 1
                losses.append(loss.item())
                progress.advance(task)

        record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "lr": lr}
        state.update(epoch=epoch + 1, rng=rng.bit_generator.state)
        if val_set is None:
            if epoch + 1 == config.epochs:
                record.update(weights="ema")
                _save_model(config.best_checkpoint, ema.module, config, record)
        elif (epoch + 1) % config.validate_every == 0 or epoch + 1 == config.epochs:
            scores = {
                name: _validate(candidate, val_set, device, spec.floor_db)
                for name, candidate in (("ema", ema.module), ("raw", model))
            }
            chosen = max(scores, key=lambda name: scores[name][0])
            record.update(
                val_accuracy=scores[chosen][0],
                val_loss=scores[chosen][1],
                weights=chosen,
                val_accuracy_raw=scores["raw"][0],
                val_accuracy_ema=scores["ema"][0],
            )
            if scores[chosen][0] > state["best_accuracy"]:
                state["best_accuracy"] = scores[chosen][0]
                _save_model(config.best_checkpoint, ema.module if chosen == "ema" else model, config, record)
        record["seconds"] = round(time.time() - started, 1)
        log.info(
            "epoch %d: %s", epoch + 1, ", ".join(f"{k} {v:.3f}" for k, v in record.items() if isinstance(v, float))
        )
        with open(run_dir / "history.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        checkpoint = {
            "model": model.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(),
            "embedding_head": None if embedding_head is None else embedding_head.state_dict(),
            "crnn_config": model.config.to_dict(),
            "state": state,
        }
        with written_whole(last, "wb") as out:  # a run stopped here resumes from the previous epoch's
            torch.save(checkpoint, out)
    return config.best_checkpoint


def _save_model(path: Path, model: GenreCRNN, config: TrainConfig, record: dict) -> None:
    best = {
        "model": model.state_dict(),
        "crnn_config": model.config.to_dict(),
        "train_config": config.__dict__,
        "selected_on": record,
    }
    with written_whole(path, "wb") as out:
        torch.save(best, out)


def run_config(checkpoint: dict, data_root: Path | None = None) -> TrainConfig:
    """The config a checkpoint's run trained with (its data source and split), ``data_root`` overriding."""
    config = TrainConfig.from_checkpoint(checkpoint["train_config"])
    return config if data_root is None else replace(config, data_root=str(data_root))


def load_checkpoint_model(path: Path) -> tuple[GenreCRNN, dict]:
    """The model of a ``best.pt`` and the record of the epoch it was selected at."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    model = GenreCRNN(CRNNConfig.from_dict(checkpoint["crnn_config"]))
    model.load_state_dict(checkpoint["model"])
    return model.eval(), checkpoint


def run_train(args: argparse.Namespace) -> int:
    """``genrescope train``: the flags (and ``--config`` YAML) → one run."""
    print(f"best checkpoint: {train(from_arguments(args))}")
    return 0
