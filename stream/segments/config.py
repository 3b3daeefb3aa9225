"""The segmenter's settings in one place: the smoother's costs and the online delay."""

from __future__ import annotations

from dataclasses import dataclass

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.engine.config import EngineConfig

UPDATE_SECONDS = FrontendSpec().column_seconds  # the engine's update interval (one per model column)


@dataclass(frozen=True)
class SegmentConfig:
    """Knobs of the genre smoother (stream.segments.viterbi); all times in seconds.

    Defaults chosen on the tuning half of the medley bench (bench/segments.py, see its
    JSON for the grid and the held-out numbers).
    """

    # The price, in nat-seconds of evidence, of a change of genre: the new genre must be
    # that much more likely, summed over time, than staying. Higher: fewer, later changes.
    switch_cost: float = 8.0
    # No segment is shorter than this (except where the recording itself starts or ends).
    min_duration_s: float = 30.0
    # Live streams: a decision is final at most this long after its update arrived.
    lag_s: float = 60.0
    # The engine's probabilities describe its context (up to 30 s before each update), so a
    # change of genre shows some seconds late; segment boundaries are moved this much earlier.
    delay_s: float = 10.0
    # A segment whose mean probability of its genre is below this is marked unsure: the
    # engine's own threshold for an unsure update.
    unsure_below: float = EngineConfig.unsure_below

    def __post_init__(self) -> None:
        if self.switch_cost < 0 or self.min_duration_s < 0 or self.delay_s < 0:
            raise ValueError("switch cost, minimum duration and delay must be ≥ 0")
        if self.lag_s <= 0:
            raise ValueError("the online lag must be > 0 s")
        if not 0 <= self.unsure_below <= 1:
            raise ValueError("unsure_below is a probability: 0 to 1")

    def steps(self, seconds: float, update_seconds: float) -> int:
        """A duration in updates, at least one."""
        return max(1, round(seconds / update_seconds))
