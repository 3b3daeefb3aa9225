"""The unit of audio every source yields and the engine consumes.

Every source imports this module, and it imports no source: the sources by name live in
``factory``, above them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A network stream with no data for this long has stalled: the source reconnects and
# counts the gap (``serve --stall-seconds``). Long enough for a slow server's hiccup.
STALL_SECONDS = 10.0


@dataclass(frozen=True)
class AudioChunk:
    """A block of audio as it arrived: any rate, any channel count.

    ``dropped_frames`` counts frames lost *before* this chunk since the previous one
    (capture overruns), so the engine can report losses instead of hiding them.
    """

    samples: np.ndarray  # float32 [frames, channels]
    sample_rate: int
    dropped_frames: int = 0

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise ValueError(f"samples must be [frames, channels], got shape {self.samples.shape}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {self.sample_rate}")

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate
