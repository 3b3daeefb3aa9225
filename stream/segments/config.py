"""The segmenter's settings in one place: the smoother's costs and the online delay."""

from __future__ import annotations

from dataclasses import dataclass

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.engine.config import EngineConfig

UPDATE_SECONDS = FrontendSpec().column_seconds  # the engine's update interval (one per model column)


@dataclass(frozen=True)
class SegmentConfig:
    """Knobs of the genre smoother (stream.segments.viterbi); all times in seconds.

    The defaults were chosen on data: on the tuning half of the medley bench
    (bench/segments.py: FMA validation clips of half the artists, 6.3 hours, 91 genre
    changes), the cost and minimum duration with the best boundary F-measure at ±7.5 s, the
    delay best for that pair, and the shortest lag within 0.02 of offline decoding. On the
    other half (6.1 hours, 87 changes) they give F 0.46 and 90% of the time in the right
    genre, against F 0.12 and 68% for argmax change points of the engine's smoothed
    probabilities (bench/segments.json).
    """

    # The price, in nat-seconds of evidence, of a change of genre: the new genre must be
    # that much more likely, summed over time, than staying. Higher: fewer, later changes.
    # High, because the model errs a whole clip at a time (30 s of wrong evidence) and
    # a real change of genre is followed by minutes of evidence. Grid: 2 to 256.
    switch_cost: float = 128.0
    # No segment is shorter than this (except where the recording itself starts or ends).
    # The bench's genre runs last 2 to 5 minutes: a mix with shorter runs wants less.
    min_duration_s: float = 120.0
    # Live streams: a decision is final at most this long after its update arrived. Shorter
    # lags force decisions before a change has gathered its evidence (tuning half, against
    # offline F 0.46 and 72% of time: 60 s F 0.44 and 69%, 120 s F 0.41, 180 s F 0.40; at
    # 30 s most changes came late, F 0.06); 240 s is the first within 0.02 on both.
    lag_s: float = 240.0
    # The engine's probabilities describe its context (up to 30 s before each update), so a
    # change of genre shows some seconds late; segment boundaries are moved this much earlier.
    delay_s: float = 13.5
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
