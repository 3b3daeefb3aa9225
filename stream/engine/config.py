"""The streaming engine's settings, apart from the engine so that the CLI can show their
defaults in ``--help`` without importing torch."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineConfig:
    """Knobs of the streaming engine."""

    smoothing_seconds: float = 2.0  # EMA time constant; 0 disables smoothing
    context_seconds: float = 30.0  # capped at the model's own context
    min_context_seconds: float = 1.0  # first update once this much audio has arrived
    frontend_device: str = "auto"  # auto → the GPU when the model runs on one, else numpy
    pitch: bool = True  # a chroma and the context's key in every update (model/frontend/pitch.py)
    # Chosen on both domains (docs/model.md, "Saying when unsure"): the shipped model's
    # held-out whole-clip predictions on FMA validation and on the 636 labelled 4Q clips,
    # pooled at the card's temperature; the lowest threshold above which the top genre is
    # right >= 70% in each: FMA 60% of clips sure, right 74%; 4Q 59%, right 71%
    # (`genrescope fourq-eval --choose-unsure`). At 0.40 the 4Q clips were right 66%.
    unsure_below: float = 0.51

    def min_columns(self, column_seconds: float) -> int:
        """Columns before the first update: ``min_context_seconds`` of them, at least one."""
        return max(1, math.ceil(self.min_context_seconds / column_seconds))

    def __post_init__(self) -> None:
        if self.smoothing_seconds < 0 or self.min_context_seconds < 0:
            raise ValueError("smoothing must be ≥ 0 s, min context ≥ 0 s")
        if self.context_seconds < self.min_context_seconds:  # no update would ever come
            raise ValueError(f"context must be at least the first update's {self.min_context_seconds:g} s")
