"""Training batches: random crops that look exactly like what the streaming engine feeds.

The engine references each window to the maximum of the columns it holds (up to 30 s)
and floors at −80 dB, so a crop of a thumbnail is re-referenced to *its own* maximum
the same way. Because of that re-referencing a global gain change is a no-op, so the
level augmentation is a random spectral tilt (a different microphone, EQ or mastering)
instead. Time/frequency masks write the floor (silence), and mixup blends levels.
"""

from __future__ import annotations

import numpy as np

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.training.genre.bandwidth import cut_at_drawn_bandwidth
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.fourq import FourQSet
from genrescope.training.genre.production import apply_production
from genrescope.training.genre.thumbnail import index_to_db


def crop_columns(seconds: float, column_seconds: float, available: int) -> int:
    return int(np.clip(round(seconds / column_seconds), 1, available))


def crop_seconds(config: TrainConfig, rng: np.random.Generator) -> float:
    """A crop length drawn from the configured distribution."""
    low, high = config.crop_min_seconds, config.crop_max_seconds
    if config.crop_distribution == "uniform":
        return rng.uniform(low, high)
    if config.crop_distribution == "log_uniform":
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    raise ValueError(f"unknown crop distribution {config.crop_distribution!r}")


def clip_db(images: np.ndarray, floor_db: float) -> np.ndarray:
    """Whole clips [B, columns, M] in dB, as the engine sees a full context."""
    return window_db(images, np.zeros(len(images), dtype=int), images.shape[1], floor_db)


def window_db(
    images: np.ndarray,
    start: np.ndarray,
    length: int,
    floor_db: float,
    rng: np.random.Generator | None = None,
    tilt_db: np.ndarray | None = None,
) -> np.ndarray:
    """Crops [B, length, M] of index images, as re-referenced dB levels in [floor, 0].

    ``start`` holds one start column per image; ``tilt_db`` one spectral tilt each.
    """
    rows = np.arange(length)[None, :] + start[:, None]
    index = images[np.arange(len(images))[:, None], rows]  # [B, L, M]
    db = index_to_db(index, floor_db, rng)
    if tilt_db is not None:
        ramp = np.linspace(-1.0, 1.0, db.shape[-1], dtype=np.float32)
        db = np.where(index == 0, floor_db, db + tilt_db[:, None, None] * ramp)
    reference = db.max(axis=(1, 2), keepdims=True)
    # A floor pixel only says "≤ floor below the clip maximum"; the engine would show it
    # at the floor of its own reference, so it stays at the floor after re-referencing.
    return np.where(index == 0, floor_db, np.maximum(db - reference, floor_db)).astype(np.float32)


def apply_masks(x: np.ndarray, config: TrainConfig, floor_db: float, rng: np.random.Generator) -> None:
    """SpecAugment-style masks, in place, filled with the floor level."""
    batch, length, mels = x.shape
    for b in range(batch):
        for _ in range(config.freq_masks):
            width = rng.integers(0, config.freq_mask_bins + 1)
            low = rng.integers(0, mels - width + 1)
            x[b, :, low : low + width] = floor_db
        for _ in range(config.time_masks):
            width = rng.integers(0, int(config.time_mask_fraction * length) + 1)
            first = rng.integers(0, length - width + 1)
            x[b, first : first + width, :] = floor_db


def augmented_windows(
    images: np.ndarray, length: int, config: TrainConfig, floor_db: float, rng: np.random.Generator
) -> np.ndarray:
    """Random ``length``-column crops of index images, tilted, produced and masked: what every
    training row goes through, whichever data set it comes from."""
    start = rng.integers(0, images.shape[1] - length + 1, size=len(images))
    tilt = rng.uniform(-config.eq_tilt_db, config.eq_tilt_db, size=len(images)).astype(np.float32)
    x = window_db(images, start, length, floor_db, rng, tilt)
    apply_production(x, floor_db, config.production_share, FrontendSpec(), rng)
    apply_masks(x, config, floor_db, rng)
    return x


def fourq_batch(
    fourq: FourQSet,
    rows: int,
    length: int,
    config: TrainConfig,
    floor_db: float,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows`` random 4Q clips (drawn with probabilities ``weights``, else uniformly) as
    augmented crops [rows, L, M] at a random column-grid phase each, with their genre sets
    [rows, G] (the set loss's targets, never mixed up: a mix of two sets is no set) and which
    clips they are (rows of ``fourq``)."""
    pick = rng.choice(len(fourq.songs), size=rows, p=weights)
    spec = FrontendSpec()
    phases = rng.integers(0, int(np.ceil(spec.frames_per_column)), size=rows)
    images = fourq.rows(pick).phase_images(phases, spec)
    return augmented_windows(images, length, config, floor_db, rng), fourq.sets[pick], pick


def set_balanced_weights(fourq: FourQSet) -> np.ndarray:
    """Draw probabilities that give every single-genre set (and the clips of several genres,
    as one more class) the same share of draws: most 4Q clips are Pop|Rock, and the balanced
    set accuracy counts Folk's 16 clips as much as Pop|Rock's 204."""
    from genrescope.training.genre.setscore import SINGLE_GENRE_SETS, set_keys

    keys = np.array([key if key in SINGLE_GENRE_SETS else "several" for key in set_keys(fourq.sets)])
    _, index, counts = np.unique(keys, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[index]
    return weights / weights.sum()


def training_batch(
    images: np.ndarray,
    labels: np.ndarray,
    config: TrainConfig,
    length: int,
    floor_db: float,
    n_classes: int,
    rng: np.random.Generator,
    side: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One augmented batch of ``length``-column crops: inputs [B, L, M], soft targets
    [B, n_classes] and, when given, the clips' training-only ``side`` targets [B, D], mixed
    up with the same draw."""
    x = augmented_windows(images, length, config, floor_db, rng)
    smooth = config.label_smoothing
    y = np.full((len(labels), n_classes), smooth / n_classes, dtype=np.float32)
    y[np.arange(len(labels)), labels] += 1.0 - smooth
    if config.mixup_alpha > 0 and rng.random() < config.mixup_prob:
        lam = np.float32(rng.beta(config.mixup_alpha, config.mixup_alpha))
        order = rng.permutation(len(labels))
        x = lam * x + (1 - lam) * x[order]
        y = lam * y + (1 - lam) * y[order]
        side = None if side is None else lam * side + (1 - lam) * side[order]
    return x, y, side


def fourq_rows_per_batch(config: TrainConfig) -> int:
    """4Q rows beside each batch's ``batch_size`` FMA rows, so that they are ``fourq_share``
    of the batch (an epoch still passes over every FMA clip once)."""
    share = config.fourq_share
    return round(config.batch_size * share / (1 - share)) if share > 0 else 0


def with_fourq(
    x: np.ndarray,
    fourq: FourQSet,
    top_bands: np.ndarray,
    rows: int,
    length: int,
    config: TrainConfig,
    floor_db: float,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The FMA crops ``x`` with ``rows`` 4Q crops after them (drawn with ``weights``, from
    ``set_balanced_weights`` with ``fourq_balanced``), and the 4Q crops' genre sets; with
    ``match_bandwidth`` every crop cut at a 4Q clip's measured bandwidth ``top_bands`` (its
    own for 4Q crops)."""
    fourq_x, sets, pick = fourq_batch(fourq, rows, length, config, floor_db, rng, weights)
    if config.match_bandwidth:
        cut_at_drawn_bandwidth(x, top_bands, floor_db, rng)
        cut_at_drawn_bandwidth(fourq_x, top_bands, floor_db, rng, own=top_bands[pick])
    return np.concatenate([x, fourq_x]), sets
