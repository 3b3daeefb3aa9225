"""Silence is not a genre: a stream quieter than a fixed level for long enough is marked
``"silence"`` so that no one reads the model's guess over a dead air signal as music.

The level is the RMS of each incoming block in dBFS (before resampling: the same number
a broadcast meter shows). Quiet blocks must add up to ``hold_seconds`` before the state
flips, so a pause between songs or a break in a track does not blink the display; one
block above the level ends it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SILENCE_DBFS = -50.0  # RMS below this is near-silence (a muted line-in sits near -90)
SILENCE_SECONDS = 4.0  # ...for at least this long before a stream is called silent


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of a block (all channels together) in dB relative to full scale."""
    if samples.size == 0:
        return float("-inf")
    flat = np.ravel(samples).astype(np.float32, copy=False)
    mean_square = float(np.dot(flat, flat)) / flat.size  # one pass, no squared copy
    return 10.0 * np.log10(mean_square) if mean_square > 0 else float("-inf")


@dataclass
class SilenceGate:
    """Tracks how long a stream has been quiet; ``silent`` once it passed the hold time."""

    level_dbfs: float = SILENCE_DBFS
    hold_seconds: float = SILENCE_SECONDS
    quiet_seconds: float = 0.0

    def feed(self, samples: np.ndarray, seconds: float) -> bool:
        """Account one block of ``seconds``; whether the stream is silent now."""
        if rms_dbfs(samples) < self.level_dbfs:
            self.quiet_seconds += seconds
        else:
            self.quiet_seconds = 0.0
        return self.silent

    @property
    def silent(self) -> bool:
        return self.quiet_seconds >= self.hold_seconds
