"""The FMA-small thumbnail encoding: dB levels ↔ viridis colour indices 0–255.

The shared thumbnails store, per pixel, floor(256 · (dB − lo) / (hi − lo)) clipped to
0–255, where lo/hi are the clip's dB range: −80 and 0 for nearly every clip (dB is
relative to the clip maximum and floored at −80). ``render_thumbnail`` produces the
same indices from audio with the project's frontend, which is how a user's own FMA
download joins the same feature space, and how a test proves the streaming frontend
sees what the model was trained on.
"""

from __future__ import annotations

import numpy as np

from genrescope.model.frontend.frontend import MelFrontend, relative_db

LEVELS = 256


def db_to_index(db: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Colour index of each level, as the recipe's colormap lookup computes it."""
    index = np.floor(LEVELS * (db - lo) / (hi - lo))
    return np.clip(index, 0, LEVELS - 1).astype(np.uint8)


def index_to_db(index: np.ndarray, floor_db: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Levels back from indices, assuming the usual range [floor_db, 0].

    Index 0 holds the floor (everything ≤ floor + one step), so it maps to the floor
    exactly, as the streaming frontend's clamp does. Other indices map to their bin
    centre, or, with ``rng``, to a uniform draw inside the bin (dequantisation noise, so
    the model never learns the 0.31 dB staircase that live audio does not have).
    """
    offset = 0.5 if rng is None else rng.random(index.shape, dtype=np.float32)
    db = floor_db * (1.0 - (index.astype(np.float32) + offset) / LEVELS)
    return np.where(index == 0, floor_db, db).astype(np.float32)


def render_thumbnail(frontend: MelFrontend, audio: np.ndarray) -> np.ndarray:
    """The thumbnail of a (≈30 s, mono, spec-rate) clip: uint8 [columns, n_mels], low mel first.

    The reference is the maximum over *every* hop-grid frame, as in the recipe, even
    though only one frame per column is kept.
    """
    spec = frontend.spec
    grid = relative_db(frontend.hop_grid_db(audio), spec.floor_db)
    # The recipe spreads its 128 columns over the frames the clip has; for a full 30 s
    # clip that is exactly spec.column_frame(i).
    columns = (np.arange(spec.context_columns) + 0.5) * len(grid) / spec.context_columns
    return db_to_index(grid[columns.astype(int)], float(grid.min()), float(grid.max()))
