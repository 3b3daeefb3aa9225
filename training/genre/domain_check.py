"""``genrescope domain-check``: can production cues alone tell a 4Q crop from an FMA crop?

If bandwidth, loudness or codec traces separate the two data sets, a network trained on
both can learn "sounds commercial ⇒ the 4Q genres" instead of what the genres sound
like. This draws training crops exactly as a recipe's batches make them, reduces each to
a handful of cue features that carry no genre on purpose, and fits an artist-blind
logistic regression to tell the sets apart (5-fold cross-validated ROC AUC: 0.5 is
"cannot tell"). Run it for the recipe as trained and with its bandwidth matching off.

The cues, per crop (levels in dB relative to the crop's maximum, as the network sees them):
bandwidth — the highest mel band above the floor in 1% / 50% of the columns; loudness —
the mean level and its spread, the share of floored cells; codec — the share of floored
cells between 8 kHz and the crop's own bandwidth (low-bitrate MP3's spectral holes), the
frame-to-frame level change above 8 kHz.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from genrescope.model.frontend.frontend import bands_kept, first_band_above
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.training.genre.augment import (
    crop_columns,
    crop_seconds,
    fourq_rows_per_batch,
    set_balanced_weights,
    training_batch,
    with_fourq,
)
from genrescope.training.genre.bandwidth import cut_bands, measured_top_band
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.fma import GENRES, load_features, training_tracks
from genrescope.training.genre.fourq import FourQSet
from genrescope.training.genre.records import record_out_of_fma

CUE_NAMES = ("top_band_p01", "top_band_median", "mean_db", "sd_db", "floor_share", "holes_above_8k", "flux_above_8k")


def cue_features(x: np.ndarray, floor_db: float, spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
    """The cue features [B, len(CUE_NAMES)] of crops ``x`` [B, L, M]."""
    above = x > floor_db + 1e-3
    band = np.arange(x.shape[2])
    top = np.where(above, band, -1).max(axis=2)  # [B, L]: highest non-floor band per column
    high = first_band_above(8000.0, spec)
    bandwidth = np.maximum(np.median(top, axis=1), high + 1).astype(int)
    inside_high = (band[None, :] >= high) & (band[None, :] < bandwidth[:, None])  # [B, M]
    holes = ((~above) & inside_high[:, None, :]).sum(axis=(1, 2)) / np.maximum(inside_high.sum(1) * x.shape[1], 1)
    flux = np.abs(np.diff(x[:, :, high:], axis=1)).mean(axis=(1, 2)) if x.shape[1] > 1 else np.zeros(len(x))
    return np.stack(
        [
            np.percentile(top, 1, axis=1),
            np.median(top, axis=1),
            x.mean(axis=(1, 2)),
            x.std(axis=(1, 2)),
            (~above).mean(axis=(1, 2)),
            holes,
            flux,
        ],
        axis=1,
    )


def recipe_crops(config: TrainConfig, batches: int, seed: int, band_limit_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Cue features of ``batches`` training batches drawn as the recipe draws them, and
    whether each crop is a 4Q one; ``band_limit_hz`` is applied as the network would."""

    rng = np.random.default_rng(seed)
    spec = FrontendSpec()
    fma = training_tracks(load_features(config), config)
    fourq = FourQSet.load(config.resolved_fourq_path)
    fourq = fourq.rows(fourq.labelled)
    rows = max(fourq_rows_per_batch(config), 1)
    top_bands = measured_top_band(fourq.grids, fourq.frames)
    weights = set_balanced_weights(fourq) if config.fourq_balanced else None
    model_cut = bands_kept(band_limit_hz, spec)
    features, is_fourq = [], []
    for _ in range(batches):
        length = crop_columns(crop_seconds(config, rng), spec.column_seconds, spec.context_columns)
        pick = rng.integers(0, len(fma.labels), size=config.batch_size)
        x, _, _ = training_batch(fma.images[pick], fma.labels[pick], config, length, spec.floor_db, len(GENRES), rng)
        both, _ = with_fourq(x, fourq, top_bands, rows, length, config, spec.floor_db, rng, weights)
        cut_bands(both, np.full(len(both), model_cut), spec.floor_db)  # what the network keeps
        features.append(cue_features(both, spec.floor_db))
        is_fourq += [np.zeros(len(x), bool), np.ones(len(both) - len(x), bool)]
    return np.concatenate(features), np.concatenate(is_fourq)


def separability(features: np.ndarray, is_fourq: np.ndarray, seed: int = 0) -> dict:
    """Cross-validated ROC AUC of a logistic regression telling the sets apart, on all
    cues together and on each alone."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def auc(columns: list[int]) -> float:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced"))
        return round(float(cross_val_score(model, features[:, columns], is_fourq, cv=5, scoring="roc_auc").mean()), 3)

    return {
        "all_cues": auc(list(range(len(CUE_NAMES)))),
        "per_cue": {name: auc([i]) for i, name in enumerate(CUE_NAMES)},
        "crops": len(is_fourq),
    }


def run_domain_check(args: argparse.Namespace) -> int:
    config = TrainConfig.from_yaml(args.recipe)
    if args.data_root:
        config = replace(config, data_root=str(args.data_root))
    if config.fourq_share <= 0:
        raise SystemExit(f"{args.recipe}: the recipe does not learn from 4Q (fourq_share is 0): nothing to check")
    report = {
        "recipe": args.recipe.stem,
        "as_trained": separability(*recipe_crops(config, args.batches, args.seed, config.band_limit_hz)),
        "unmatched": separability(*recipe_crops(replace(config, match_bandwidth=False), args.batches, args.seed, 0.0)),
    }
    if args.record:
        record_out_of_fma(args.record, "domain_check", report)
    for name in ("unmatched", "as_trained"):
        entry = report[name]
        print(
            f"{name:>10}: ROC AUC {entry['all_cues']:.3f} on all cues ({entry['crops']} crops); "
            + ", ".join(f"{k} {v:.2f}" for k, v in entry["per_cue"].items())
        )
    return 0
