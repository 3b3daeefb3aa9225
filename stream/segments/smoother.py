"""Segments from the decoder's decisions: the offline ``segment`` and the ``OnlineSegmenter``.

Both run the same decoder (stream.segments.viterbi); offline is the online segmenter with
no lag, flushed at the end, so the two can only differ where a live stream forced a
decision before the evidence was in.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genrescope.stream.segments.config import UPDATE_SECONDS, SegmentConfig
from genrescope.stream.segments.viterbi import MinDurationViterbi


@dataclass(frozen=True)
class Segment:
    """One run of a genre: from ``start_s`` to ``end_s`` on the updates' clock."""

    start_s: float
    end_s: float
    genre: str
    mean_probability: float  # the genre's mean calibrated probability over the segment's updates
    unsure: bool  # that mean is below the unsure threshold: the genre is a guess

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_json(self) -> dict[str, object]:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "genre": self.genre,
            "mean_probability": round(self.mean_probability, 4),
            "unsure": self.unsure,
        }


@dataclass
class _SegmentBuilder:
    """The open segment, grown one decided update at a time."""

    labels: Sequence[str]
    config: SegmentConfig
    start_s: float
    genre: int = -1
    probability_sum: float = 0.0
    updates: int = 0
    last_time_s: float = 0.0

    def add(self, time_s: float, probabilities: np.ndarray, genre: int) -> Segment | None:
        """One decided update; returns the segment it closed, if its genre differs."""
        closed = None
        if self.updates and genre != self.genre:
            boundary = max(self.start_s, (self.last_time_s + time_s) / 2 - self.config.delay_s)
            closed = self.segment(boundary)
            self.start_s, self.probability_sum, self.updates = boundary, 0.0, 0
        self.genre = genre
        self.probability_sum += float(probabilities[genre])
        self.updates += 1
        self.last_time_s = time_s
        return closed if closed is not None and closed.duration_s > 0 else None

    def segment(self, end_s: float) -> Segment:
        mean = self.probability_sum / self.updates
        return Segment(self.start_s, end_s, self.labels[self.genre], mean, mean < self.config.unsure_below)


class OnlineSegmenter:
    """Genre segments of a live stream, with a bounded decision delay and bounded memory.

    ``push`` each update (its time and calibrated probabilities, in ``labels`` order); a
    segment comes back once the update after it has been decided, at most ``config.lag_s``
    after it arrived (plus the segment's boundary delay). ``open_segment`` is the current
    best guess of the segment still running; ``flush`` ends the stream. Memory holds the
    open updates only: at most ``lag_s / update_seconds`` of them.
    """

    def __init__(
        self,
        labels: Sequence[str],
        config: SegmentConfig = SegmentConfig(),
        *,
        update_seconds: float = UPDATE_SECONDS,
        start_s: float = 0.0,
        lag: bool = True,
    ):
        self.labels, self.config = tuple(labels), config
        self.update_seconds, self.start_s = update_seconds, start_s
        lag_steps = config.steps(config.lag_s, update_seconds) if lag else None
        self._decoder = MinDurationViterbi(
            len(self.labels),
            config.steps(config.min_duration_s, update_seconds),
            config.switch_cost,
            update_seconds,
            lag_steps,
        )
        self._open: deque[tuple[float, np.ndarray]] = deque()  # the decoder's open updates: time, probabilities
        self._builder = _SegmentBuilder(self.labels, config, start_s)

    def push(self, time_s: float, probabilities: Sequence[float] | np.ndarray) -> list[Segment]:
        """One update; returns the segments that became final."""
        values = np.asarray(probabilities, dtype=np.float64)
        if values.shape != (len(self.labels),):
            raise ValueError(f"expected {len(self.labels)} probabilities, got shape {values.shape}")
        self._open.append((float(time_s), values))
        return self._decide(self._decoder.push(values))

    def open_segment(self) -> Segment | None:
        """The segment still running, as the evidence so far has it (None before any update)."""
        if not self._builder.updates and not self._open:
            return None
        builder = copy.copy(self._builder)
        for (time_s, values), genre in zip(self._open, self._decoder.tentative(), strict=False):
            builder.add(time_s, values, genre)
        return builder.segment(builder.last_time_s)

    def flush(self, end_s: float | None = None) -> list[Segment]:
        """End of the stream: every remaining segment, the last one ending at ``end_s`` (the
        audio's end, when the caller knows it) or else at the last update."""
        final = self._decide(self._decoder.flush())
        if self._builder.updates:
            final.append(self._builder.segment(max(self._builder.last_time_s, end_s or 0.0)))
        self._builder = _SegmentBuilder(self.labels, self.config, self.start_s)
        return final

    @property
    def open_updates(self) -> int:
        """Updates held while their decision waits: at most the lag."""
        return len(self._open)

    def _decide(self, genres: list[int]) -> list[Segment]:
        closed = []
        for genre in genres:
            time_s, values = self._open.popleft()
            segment_done = self._builder.add(time_s, values, genre)
            if segment_done is not None:
                closed.append(segment_done)
        return closed


def segment(
    times_s: Sequence[float] | np.ndarray,
    probabilities: np.ndarray,
    labels: Sequence[str],
    config: SegmentConfig = SegmentConfig(),
    start_s: float = 0.0,
    end_s: float | None = None,
) -> list[Segment]:
    """The segments of a whole recording: exact Viterbi over every update [T, G] at once.

    The update interval is the median step of ``times_s`` (the engine's is steady); the
    last segment ends at ``end_s`` when given (the audio's end), else at the last update.
    """
    times = np.asarray(times_s, dtype=np.float64)
    if len(times) != len(probabilities):
        raise ValueError(f"{len(times)} times but {len(probabilities)} rows of probabilities")
    if not len(times):
        return []
    update_seconds = float(np.median(np.diff(times))) if len(times) > 1 else UPDATE_SECONDS
    segmenter = OnlineSegmenter(labels, config, update_seconds=update_seconds, start_s=start_s, lag=False)
    segments = []
    for time_s, values in zip(times, probabilities, strict=False):
        segments += segmenter.push(time_s, values)
    return segments + segmenter.flush(end_s)
