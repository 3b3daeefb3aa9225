"""Fit the audio/cover fusion weight on validation data (no paired data exists).

Protocol, and why it is defensible:

* No track comes with both audio and its real cover, so pairs are simulated: every
  FMA-small **validation** track whose genre the cover model also knows (Electronic,
  Hip-Hop, Pop, Rock: 400 tracks) is paired with a cover drawn at random (seeded) from
  the **validation** covers of the same genre (discogs5 Electronic/HipHop/Pop/Rock and
  spotify5 HipHop, plus Metal as Rock — the mapping in model/cover/fusion.py). The pairing is
  redrawn ``pairings`` times and scores are averaged, so the weight does not hinge on
  one lucky draw.
* The two predictions are conditionally independent given the genre by construction,
  which real pairs are not (a cover and its album's sound share more than the genre),
  so the fitted weight is, if anything, a slight over-estimate of the cover's value.
* The weight maximises the mean log-likelihood of the true genre under the fused
  distribution over the shared genres (a proper score; accuracy is reported too).
  Only validation splits are used to choose it; the test splits (FMA test tracks ×
  test covers, same protocol) are scored once with the chosen weight.

Audio predictions come from the shipped audio model (``model/genre_crnn.onnx``, its
calibrated probabilities) on the full 30 s thumbnails, referenced as the engine does.
Run it as ``genrescope fit-fusion`` (settings: ``FusionFitConfig``, one flag each).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import track

from genrescope.model.cover.cover import CoverModel
from genrescope.model.cover.fusion import COVER_TO_AUDIO, SHARED, cover_on_shared, log_pool
from genrescope.model.session import GenreModel
from genrescope.stream.outputs import write_text_whole
from genrescope.training.cover.cover_config import FusionFitConfig
from genrescope.training.cover.covers import CoverItem, load_splits
from genrescope.training.genre.augment import clip_db
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.fma import GENRES, FeatureSet, load_features
from genrescope.training.settings import settings_from_arguments

FMA_SPLIT = {"val": "validation", "test": "test"}


@dataclass(frozen=True)
class Inputs:
    """Both models and both data sets, loaded once for the validation and the test scores."""

    audio_model: GenreModel
    cover_model: CoverModel
    tracks: FeatureSet
    covers: dict[str, dict[str, list[CoverItem]]]

    @classmethod
    def load(cls, cfg: FusionFitConfig) -> Inputs:
        return cls(
            GenreModel.load(cfg.audio_model),
            CoverModel.load(cfg.cover_model or None),
            load_features(TrainConfig(data_root=cfg.data_root)),
            load_splits(Path(cfg.data_root)),
        )


def audio_predictions(inputs: Inputs, split: str) -> tuple[np.ndarray, np.ndarray]:
    """P(genre | shared genres) from the audio model on full 30 s clips, and true indices."""
    model, data = inputs.audio_model, inputs.tracks.subset(FMA_SPLIT[split])
    keep = np.isin(np.array(GENRES)[data.labels], SHARED)
    images, labels = data.images[keep], np.array(GENRES)[data.labels[keep]]
    mel = clip_db(images, model.card.frontend.floor_db)
    probs = np.concatenate([model.probabilities(mel[i : i + 64]) for i in range(0, len(mel), 64)])
    shared = probs[:, [model.labels.index(g) for g in SHARED]]
    return shared / shared.sum(1, keepdims=True), np.array([SHARED.index(g) for g in labels])


def cover_pools(inputs: Inputs, split: str) -> list[np.ndarray]:
    """Per shared genre, the cover model's shared-genre distributions of that genre's covers."""
    items = [it for s in inputs.covers.values() for it in s[split] if it.label in COVER_TO_AUDIO]
    pools: list[list[np.ndarray]] = [[] for _ in SHARED]
    for it in track(items, description=f"{split} covers"):
        shared = cover_on_shared(inputs.cover_model.predict(Image.open(it.path)))
        pools[SHARED.index(COVER_TO_AUDIO[it.label])].append(np.array([shared[g] for g in SHARED]))
    return [np.stack(p) for p in pools]


def paired_covers(true: np.ndarray, pools: list[np.ndarray], pairings: int, seed: int) -> np.ndarray:
    """[pairings, n, shared] cover distributions, each drawn from the true genre's pool."""
    rng = np.random.default_rng(seed)
    out = np.empty((pairings, len(true), len(SHARED)))
    for g, pool in enumerate(pools):
        rows = np.flatnonzero(true == g)
        out[:, rows] = pool[rng.integers(0, len(pool), (pairings, len(rows)))]
    return out


def fused_scores(audio: np.ndarray, covers: np.ndarray, true: np.ndarray, weight: float) -> dict[str, float]:
    """Mean log-likelihood and accuracy of the log-linear pool the runtime applies."""
    logp = log_pool(audio, covers, weight)
    picked = np.take_along_axis(logp, np.broadcast_to(true[None, :, None], logp.shape[:2] + (1,)), -1)
    return {"log_likelihood": float(picked.mean()), "accuracy": float((logp.argmax(-1) == true).mean())}


def evaluate(cfg: FusionFitConfig, inputs: Inputs, split: str, weights: list[float]) -> dict[float, dict[str, float]]:
    """Scores of each weight on simulated pairs of one split."""
    audio, true = audio_predictions(inputs, split)
    covers = paired_covers(true, cover_pools(inputs, split), cfg.pairings, cfg.seed)
    return {w: fused_scores(audio[None], covers, true, w) for w in weights}


def fit(cfg: FusionFitConfig) -> dict:
    """Choose the weight on validation, score it once on test; returns the fusion record."""
    grid = [round(w, 4) for w in np.arange(0.0, 1.0 + 1e-9, cfg.grid_step)]
    inputs = Inputs.load(cfg)
    val = evaluate(cfg, inputs, "val", grid)
    best = max(grid, key=lambda w: val[w]["log_likelihood"])
    test = evaluate(cfg, inputs, "test", sorted({0.0, best, 1.0}))
    return {
        "weight": best,
        "shared_genres": list(SHARED),
        "cover_to_audio": COVER_TO_AUDIO,
        "protocol": __doc__.split("Audio predictions")[0].strip(),
        "config": asdict(cfg),
        "val": {str(w): s for w, s in val.items()},
        "test": {"audio_only": test[0.0], "fused": test[best], "cover_only": test[1.0]},
    }


def run_fit_fusion(args: argparse.Namespace) -> int:
    """``genrescope fit-fusion``: writes the record to ``--out`` and prints the test scores."""
    cfg = settings_from_arguments(args, FusionFitConfig)
    if not Path(cfg.audio_model).exists():
        raise FileNotFoundError(f"audio model {cfg.audio_model} not found: train and export it first")
    record = fit(cfg)
    write_text_whole(cfg.out, json.dumps(record, indent=2) + "\n")
    print(json.dumps({"weight": record["weight"], "test": record["test"]}, indent=2))
    return 0
