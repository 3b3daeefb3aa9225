"""Bring any incoming audio to the model's format: mono, finite, at the model's rate.

Every source goes through ``Conditioner`` exactly once, so a microphone at 48 kHz with
two channels, an 8-channel 192 kHz file and an 8 kHz phone recording all reach the
frontend as the same kind of signal. Resampling is stateful (soxr's stream resampler),
so chunk boundaries leave no clicks and a whole file equals the sum of its chunks.
"""

from __future__ import annotations

import logging

import numpy as np
import soxr

log = logging.getLogger(__name__)


class Conditioner:
    """Down-mix, sanitise and resample a stream of [frames, channels] blocks."""

    def __init__(self, target_rate: int):
        self.target_rate = target_rate
        self._rate: int | None = None
        self._resampler: soxr.ResampleStream | None = None
        self.nonfinite_samples = 0

    def process(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono float32 at the target rate for one block (may be empty while soxr fills)."""
        mono = self._mono(samples)
        if sample_rate == self.target_rate:
            return mono
        if sample_rate != self._rate:
            if self._resampler is not None:
                log.warning("input rate changed from %s to %s Hz mid-stream", self._rate, sample_rate)
            self._rate = sample_rate
            self._resampler = soxr.ResampleStream(sample_rate, self.target_rate, 1, dtype="float32", quality="HQ")
        return self._resampler.resample_chunk(mono)

    def flush(self) -> np.ndarray:
        """The resampler's tail at the end of a stream."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)

    def _mono(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2:
            channels = samples.shape[1]
            # A matrix-vector product: several times faster than mean(axis=1) on short rows.
            samples = samples @ np.full(channels, 1 / channels, dtype=np.float32) if channels > 1 else samples[:, 0]
        if np.isfinite(samples.sum()):  # one reduction for the usual, all-finite block
            return np.ascontiguousarray(samples)
        finite = np.isfinite(samples)
        if not finite.all():
            bad = int(samples.size - finite.sum())
            if self.nonfinite_samples == 0:
                log.warning("input has NaN/inf samples; they are replaced by silence and counted")
            self.nonfinite_samples += bad
            samples = np.where(finite, samples, np.float32(0.0))
        return np.ascontiguousarray(samples)
