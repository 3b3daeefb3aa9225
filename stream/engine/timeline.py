"""A stream's genre timeline in fixed memory, for ``--plot`` on streams of any length.

A live stream can run for days (≈370,000 updates a day); a plot cannot show more points
than it has pixels. So the timeline keeps at most ``max_points`` points: when full,
neighbouring pairs merge into their weighted mean and later updates are averaged in
twos, then fours, and so on. Every update still counts, with its weight, toward each
genre's mean, and memory stays fixed.
"""

from __future__ import annotations

import numpy as np

from genrescope.stream.engine.events import GenreUpdate

MAX_POINTS = 8192  # a few per pixel of the plot's width


class Timeline:
    """Times and smoothed probabilities of a stream's updates, decimated as it grows."""

    def __init__(self, max_points: int = MAX_POINTS):
        if max_points < 2 or max_points % 2:
            raise ValueError(f"max_points must be even and at least 2, got {max_points}")
        self.labels: tuple[str, ...] = ()
        self.max_points = max_points
        self._times = np.zeros(max_points)
        self._probabilities: np.ndarray | None = None  # [max_points, genres]
        self._weights = np.zeros(max_points)  # updates behind each point
        self._size = 0
        self._stride = 1  # updates merged into one point from now on

    def __len__(self) -> int:
        return self._size

    def add(self, update: GenreUpdate) -> None:
        if self._probabilities is None:
            self.labels = update.labels
            self._probabilities = np.zeros((self.max_points, len(update.labels)))
        last = self._size - 1
        if self._size and self._weights[last] < self._stride:  # the newest point is still filling
            self._merge_into(last, update.time, np.asarray(update.probabilities), 1.0)
            return
        if self._size == self.max_points:
            self._halve()
            self.add(update)
            return
        self._times[self._size], self._weights[self._size] = update.time, 1.0
        self._probabilities[self._size] = update.probabilities
        self._size += 1

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times [n], probabilities [n, genres], weights [n]) of the points so far."""
        assert self._probabilities is not None or self._size == 0
        probabilities = self._probabilities[: self._size] if self._probabilities is not None else np.zeros((0, 0))
        return self._times[: self._size], probabilities, self._weights[: self._size]

    def _merge_into(self, index: int, time: float, probabilities: np.ndarray, weight: float) -> None:
        assert self._probabilities is not None
        total = self._weights[index] + weight
        self._times[index] += (time - self._times[index]) * weight / total
        self._probabilities[index] += (probabilities - self._probabilities[index]) * weight / total
        self._weights[index] = total

    def _halve(self) -> None:
        """Merge points pairwise (weighted): half the slots free, twice the stride."""
        assert self._probabilities is not None
        w = self._weights.reshape(-1, 2)
        total = w.sum(axis=1)
        self._times[: self.max_points // 2] = (self._times.reshape(-1, 2) * w).sum(axis=1) / total
        self._probabilities[: self.max_points // 2] = (
            self._probabilities.reshape(-1, 2, self._probabilities.shape[1]) * w[..., None]
        ).sum(axis=1) / total[:, None]
        self._weights[: self.max_points // 2] = total
        self._weights[self.max_points // 2 :] = 0
        self._size = self.max_points // 2
        self._stride *= 2
