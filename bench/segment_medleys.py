"""Medleys for the segment bench: FMA-small validation clips of known genre, end to end.

No FMA audio exists on these machines, only each clip's 128-column index image (30 s), so
the medleys are built at the column level: a genre block is 4 to 10 clips of one genre
(2 to 5 minutes, with real boundaries between its clips), and a medley is up to six
blocks, each of another genre than the one before. The model then sees what the engine
would show it: for every column from the first update on, the context ending there (up
to 128 columns) re-referenced to its own maximum (``training.augment.window_db``), one
run of the shipped model, calibrated probabilities; one update per column.

The validation artists are split in two halves (one for choosing the smoother's
defaults, one for reporting), so no clip and no artist is in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrescope.model.session import GenreModel
from genrescope.stream.engine.config import EngineConfig
from genrescope.training.genre.augment import window_db
from genrescope.training.genre.fma import GENRES, Track, read_thumbnail, thumbnail_path

BLOCK_CLIPS = (4, 10)  # clips per genre block: 2 to 5 minutes
BLOCKS_PER_MEDLEY = 6
WINDOWS_PER_CALL = 128  # contexts per model call (bounded memory: 128 × 128 × 128 floats)


@dataclass
class Medley:
    """One medley's columns and its truth: the genre blocks and where every clip starts."""

    columns: np.ndarray  # uint8 [N, mels], index images end to end
    block_genres: list[int]  # the genre of each block, in order
    block_starts: list[int]  # the first column of each block
    clip_starts: list[int]  # the first column of every clip

    def true_intervals(self, column_seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """The genre segments as [B, 2] intervals in seconds, and their genres."""
        edges = np.array(self.block_starts + [len(self.columns)]) * column_seconds
        return np.stack([edges[:-1], edges[1:]], axis=1), np.array(self.block_genres)


def split_artists(tracks: list[Track], seed: int) -> tuple[list[Track], list[Track]]:
    """The tracks of a random half of the artists, and of the other half."""
    artists = sorted({t.artist for t in tracks})
    chosen = set(np.random.default_rng(seed).permutation(artists)[: len(artists) // 2])
    return [t for t in tracks if t.artist in chosen], [t for t in tracks if t.artist not in chosen]


def build_medleys(tracks: list[Track], fma_root, seed: int) -> list[Medley]:
    """Medleys using every clip of ``tracks`` at most once, in random genre blocks."""
    rng = np.random.default_rng(seed)
    pools = {g: list(rng.permutation([t for t in tracks if t.genre == name])) for g, name in enumerate(GENRES)}
    medleys, blocks, previous = [], [], None
    while True:
        eligible = [g for g, pool in pools.items() if len(pool) >= BLOCK_CLIPS[0] and g != previous]
        if not eligible or len(blocks) == BLOCKS_PER_MEDLEY:
            if blocks:
                medleys.append(_assemble(blocks, fma_root))
            blocks, previous = [], None
            if not eligible:
                return medleys
            continue
        genre = int(rng.choice(eligible))
        take = min(int(rng.integers(BLOCK_CLIPS[0], BLOCK_CLIPS[1] + 1)), len(pools[genre]))
        if len(pools[genre]) - take < BLOCK_CLIPS[0]:
            take = len(pools[genre])  # no remnant too short for a block of its own
        blocks.append((genre, pools[genre][:take]))
        pools[genre] = pools[genre][take:]
        previous = genre


def _assemble(blocks: list[tuple[int, list[Track]]], fma_root) -> Medley:
    images, block_starts, clip_starts, position = [], [], [], 0
    for _, clips in blocks:
        block_starts.append(position)
        for track in clips:
            image = read_thumbnail(thumbnail_path(fma_root, track))
            images.append(image)
            clip_starts.append(position)
            position += len(image)
    return Medley(np.concatenate(images), [g for g, _ in blocks], block_starts, clip_starts)


def update_probabilities(model: GenreModel, medley: Medley) -> np.ndarray:
    """The calibrated probabilities [U, G] of every update, as the engine computes them:
    one per column from its first update on (``EngineConfig.min_context_seconds``)."""
    spec = model.card.frontend
    first = EngineConfig().min_columns(spec.column_seconds) - 1
    context = spec.context_columns
    rows = [
        model.probabilities(window_db(medley.columns[None], np.zeros(1, int), end + 1, spec.floor_db))
        for end in range(first, min(context - 1, len(medley.columns)))
    ]  # the context still growing
    ends = np.arange(max(first, context - 1), len(medley.columns))
    stacked = np.broadcast_to(medley.columns, (WINDOWS_PER_CALL, *medley.columns.shape))
    for batch in range(0, len(ends), WINDOWS_PER_CALL):
        chunk = ends[batch : batch + WINDOWS_PER_CALL]
        windows = window_db(stacked[: len(chunk)], chunk - (context - 1), context, spec.floor_db)
        rows.append(model.probabilities(windows))
    return np.concatenate(rows)


def update_times(model: GenreModel, updates: int, columns: int) -> np.ndarray:
    """The engine's time of each update: the centre of its newest column."""
    spec = model.card.frontend
    return np.array([spec.column_center(c) / spec.sample_rate for c in range(columns - updates, columns)])
