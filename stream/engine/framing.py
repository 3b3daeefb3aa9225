"""Cutting a stream of audio blocks into the model's columns, and what is read from each
column's spectrum: what the live engine, the multi-stream scheduler and the whole-file
tagger share.

A column is one ``n_fft`` window centred on ``spec.column_center(column)``. Blocks of any
rate and channel count go through the ``Conditioner`` once; the framer hands back the
windows of every column the new audio completed and keeps only the samples a later
window still needs, so its memory is a few windows whatever the length of the stream
(a three-hour mix included). At the end of a stream the last columns whose centre lies
inside the audio are cut too, zero-padded past the end as librosa's centred framing pads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrescope.model.frontend.frontend import MelFrontend, frame_windows
from genrescope.model.frontend.pitch import chroma
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.conditioning import Conditioner


@dataclass(frozen=True)
class ColumnWindows:
    """The columns a block completed, with their FFT windows: the work before the FFT,
    so that one FFT can serve the new columns of many streams (or of many blocks)."""

    columns: range
    windows: np.ndarray  # [len(columns), n_fft] samples at the model's rate


@dataclass(frozen=True)
class ColumnFeatures:
    """What the engine reads from its new columns' power spectra: their levels and
    their chroma, computed once for a whole stack of windows (one stream's or many's)."""

    levels: Any  # [n, n_mels] absolute dB, in the frontend's array type
    chroma: np.ndarray | None  # [n, 12], or None when the engine does no pitch
    ms_per_column: float  # the FFT, mel and chroma time, shared out

    @classmethod
    def of(cls, frontend: MelFrontend, windows: np.ndarray, pitch: bool) -> ColumnFeatures:
        started = time.perf_counter()
        power = frontend.frames_power(windows)
        levels = frontend.column_levels(power)
        pitch_classes = chroma(frontend.to_numpy(power), frontend.spec.sample_rate) if pitch else None
        return cls(levels, pitch_classes, (time.perf_counter() - started) * 1e3 / max(1, len(windows)))

    def rows(self, start: int, stop: int) -> ColumnFeatures:
        """The features of windows ``start`` … ``stop - 1`` of the stack."""
        pitch_classes = None if self.chroma is None else self.chroma[start:stop]
        return ColumnFeatures(self.levels[start:stop], pitch_classes, self.ms_per_column)


class ColumnFramer:
    """Audio blocks in, the FFT windows of the columns they complete out."""

    def __init__(self, spec: FrontendSpec):
        self.spec = spec
        self.conditioner = Conditioner(spec.sample_rate)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # absolute index of _buffer[0] at the model rate
        self.received = 0  # samples at the model rate so far
        self._next_column = 0

    def take(self, chunk: AudioChunk) -> ColumnWindows:
        """Take in one block: the windows of the columns it completed."""
        self._append(self.conditioner.process(chunk.samples, chunk.sample_rate))
        return self._cut(final=False)

    def take_final(self) -> ColumnWindows:
        """The end of the stream: the resampler's tail, and the last columns whose centre
        lies inside the audio, zero-padded."""
        self._append(self.conditioner.flush())
        return self._cut(final=True)

    @property
    def held(self) -> int:
        """Samples kept for later windows: under two windows, whatever the stream's length."""
        return len(self._buffer)

    def _append(self, audio: np.ndarray) -> None:
        if len(audio):
            self._buffer = np.concatenate([self._buffer, audio])
            self.received += len(audio)

    def _cut(self, final: bool) -> ColumnWindows:
        first = self._next_column
        while self._column_ready(self._next_column, final):
            self._next_column += 1
        columns = range(first, self._next_column)
        centers = np.array([self.spec.column_center(c) - self._buffer_start for c in columns], dtype=np.int64)
        windows = frame_windows(self._buffer, centers, self.spec.n_fft)
        # Drop what no later window needs, but never past the audio received so far:
        # ``_buffer`` always holds samples ``_buffer_start`` … ``received`` − 1.
        keep_from = min(self.received, self.spec.column_center(self._next_column) - self.spec.n_fft // 2)
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start :]
            self._buffer_start = keep_from
        return ColumnWindows(columns, windows)

    def _column_ready(self, column: int, final: bool) -> bool:
        if final:
            return self.spec.column_center(column) < self.received
        return self.spec.samples_needed(column) <= self.received
