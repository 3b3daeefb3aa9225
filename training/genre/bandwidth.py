"""Bandwidth, made uninformative of where a clip comes from.

4Q's previews are low-bitrate MP3s: their encoders low-pass the 32 kHz ones near 12 kHz
and the 22.05 kHz ones near 8.7 kHz (measured on the clips: ``measured_top_band``), while
FMA's thumbnails reach 17 kHz and more. Left alone, a network trained on both learns
"band-limited ⇒ commercial" instead of what the genres sound like, and every low-bitrate
radio stream would trip it. Two measures, together:

1. the network itself ignores the mel bands above the recipe's ``band_limit_hz`` (12 kHz
   in recipes/fourq/: band 108 of 128, what the 32 kHz previews fill; inside the exported
   graph, so the runtime needs no change), so every source with at least that bandwidth
   looks alike to it;
2. every training crop, from either set, is cut at the measured bandwidth of a 4Q clip
   (``cut_at_drawn_bandwidth``): an FMA crop at that of a random 4Q clip, a 4Q crop at
   its own (floored exactly), so the cut-offs are distributed alike in both sets.

``genrescope domain-check`` measures whether bandwidth, loudness or codec cues still
tell the sets apart after this.
"""

from __future__ import annotations

import numpy as np

# A band is filled when it lies above the floor in at least this share of a clip's frames.
FILLED_SHARE = 0.2


def measured_top_band(grids: np.ndarray, frames: np.ndarray, share: float = FILLED_SHARE) -> np.ndarray:
    """Per clip, the number of mel bands from the bottom up to its highest filled one
    (colour-index grids [N, frames, M], ``frames`` real frames each): its bandwidth in bands."""
    tops = np.zeros(len(grids), int)
    for i, (grid, n) in enumerate(zip(grids, frames, strict=True)):
        filled = np.nonzero((grid[:n] > 0).mean(axis=0) >= share)[0]
        tops[i] = filled.max() + 1 if len(filled) else 0
    return tops


def cut_bands(x: np.ndarray, first_cut: np.ndarray, floor_db: float) -> None:
    """Floor, in place, every band from ``first_cut[b]`` up in crop ``b`` of ``x`` [B, L, M]."""
    above = np.arange(x.shape[2])[None, :] >= np.asarray(first_cut)[:, None]  # [B, M]
    np.copyto(x, floor_db, where=above[:, None, :])


def cut_at_drawn_bandwidth(
    x: np.ndarray, top_bands: np.ndarray, floor_db: float, rng: np.random.Generator, own: np.ndarray | None = None
) -> np.ndarray:
    """Cut each crop of ``x`` at the bandwidth (in bands) of a 4Q clip drawn from
    ``top_bands``, or at ``own`` where given (4Q crops: their clip's). Returns the cuts."""
    cuts = rng.choice(top_bands, size=len(x)) if own is None else np.asarray(own)
    cut_bands(x, cuts, floor_db)
    return cuts
