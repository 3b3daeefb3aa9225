"""The real-time engine: audio blocks in, one smoothed genre update per model column out.

Per update the work is fixed and small: one 2048-point FFT for the newest column (the
frontend never recomputes old columns), re-referencing the context to its maximum, one
model run over the context (up to 30 s), and an exponential moving average. The engine
is a plain object — ``process(chunk)`` / ``flush()`` or the ``run(source)`` generator —
so the CLI, the websocket server and the tests drive the very same code.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from genrescope.model.frontend.device import make_frontend
from genrescope.model.frontend.pitch import ChromaContext, KeyEstimate
from genrescope.model.session import CUDA, GenreModel
from genrescope.stream.engine.compute_times import ComputeTimes
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.engine.events import GenreUpdate, StreamStats, hello_message
from genrescope.stream.engine.framing import ColumnFeatures, ColumnFramer, ColumnWindows
from genrescope.stream.sources.chunk import AudioChunk

RATE_WINDOW = 20  # updates over which the live update rate is measured
PERCENTILE_WINDOW = 500  # updates over which the live p50/p99 compute time is taken
# ...refreshed every 8 updates (≈2 s): a percentile costs more than the rest of an update's bookkeeping
PERCENTILE_EVERY = 8


@dataclass(frozen=True)
class PendingColumn:
    """A column whose context is ready for the model: what ``GenreEngine.prepare`` (or
    ``accept``) hands a scheduler, and ``complete`` takes back with the logits."""

    column: int
    context: Any  # [T, n_mels] relative dB, in the frontend's array type
    frontend_ms: float  # the FFT and re-referencing, counted in the update's compute time
    pitch: tuple[np.ndarray, KeyEstimate] | None = None  # the column's chroma and the context's key


class GenreEngine:
    """Turns a stream of ``AudioChunk``s into ``GenreUpdate``s, one per model column."""

    def __init__(self, model: GenreModel, config: EngineConfig = EngineConfig()):
        self.model = model
        self.config = config
        self.spec = model.card.frontend
        self.frontend = make_frontend(self.spec, config.frontend_device, model_on_gpu=model.provider == CUDA)
        self.context_columns = min(
            self.spec.context_columns, max(1, round(config.context_seconds / self.spec.column_seconds))
        )
        self.min_columns = config.min_columns(self.spec.column_seconds)
        tau = config.smoothing_seconds
        self.alpha = 1.0 if tau == 0 else 1.0 - math.exp(-self.spec.column_seconds / tau)
        # Device tensors go to the CUDA provider without a host round trip.
        self._bind = str(self.frontend.device) != "cpu" and model.provider == CUDA
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next chunk starts a new one."""
        self._framer = ColumnFramer(self.spec)
        self._context = self.frontend.empty_context()
        self._pitch = ChromaContext(self.context_columns) if self.config.pitch else None
        self._smoothed: np.ndarray | None = None
        self._dropped = 0
        self._compute_ms = ComputeTimes(PERCENTILE_WINDOW)  # bounded: streams run for days
        self._percentiles = [0.0, 0.0]
        self._wall_times: deque[float] = deque(maxlen=RATE_WINDOW)
        self._started = time.monotonic()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    @property
    def model_version(self) -> str:
        return self.model.card.version

    @property
    def provider(self) -> str:
        return self.model.provider

    def hello(self, source_name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return hello_message(source_name, self.labels, self.model_version, self.spec.to_json(), self.provider, extra)

    def process(self, chunk: AudioChunk) -> list[GenreUpdate]:
        """Feed one block; returns the updates whose columns it completed."""
        return self._run_model(self.prepare(chunk))

    def flush(self) -> list[GenreUpdate]:
        """End of stream: the resampler's tail and the last, zero-padded columns."""
        return self._run_model(self.accept(self.take_final_windows()))

    def prepare(self, chunk: AudioChunk) -> list[PendingColumn]:
        """Feed one block up to the model: the columns it completed, each with the
        context the model must see. ``complete`` turns them into updates once the model
        ran, so a scheduler can run the contexts of many engines in one batch."""
        return self.accept(self.take_windows(chunk))

    def take_windows(self, chunk: AudioChunk) -> ColumnWindows:
        """The first half of ``prepare``: take in one block, and the FFT windows of the
        columns it completed."""
        self._dropped += chunk.dropped_frames
        return self._framer.take(chunk)

    def take_final_windows(self) -> ColumnWindows:
        """``take_windows`` at the end of the stream: the resampler's tail and the last,
        zero-padded columns."""
        return self._framer.take_final()

    def accept(self, windows: ColumnWindows, features: ColumnFeatures | None = None) -> list[PendingColumn]:
        """The second half of ``prepare``: each column's levels and chroma into the
        context, and the context the model must see. ``features`` are those of exactly
        these windows, when a scheduler computed them for many streams at once."""
        if not windows.columns:
            return []
        if features is None:
            features = self.features(windows.windows)
        pending = []
        for row, column in enumerate(windows.columns):
            started = time.perf_counter()
            self._context = self.frontend.append_columns(
                self._context, features.levels[row : row + 1], self.context_columns
            )
            pitch = self._pitch.push(features.chroma[row]) if self._pitch else None
            if len(self._context) >= self.min_columns:
                spent_ms = features.ms_per_column + (time.perf_counter() - started) * 1e3
                pending.append(PendingColumn(column, self.frontend.relative_context(self._context), spent_ms, pitch))
        return pending

    def features(self, windows: np.ndarray) -> ColumnFeatures:
        """The levels (and chroma, if this engine keeps pitch) of a stack of windows: this
        engine's, or a scheduler's of many engines of one model and config."""
        return ColumnFeatures.of(self.frontend, windows, self._pitch is not None)

    def model_input(self, pending: PendingColumn) -> np.ndarray:
        """A prepared column's context as the model's numpy input (it may live on a GPU)."""
        return self.frontend.to_numpy(pending.context)

    def complete(self, pending: PendingColumn, logits: np.ndarray, model_ms: float) -> GenreUpdate:
        """The update of a prepared column from its logits (one row); ``model_ms`` is its
        share of the model call, counted in the update's compute time."""
        raw = self.model.calibrated(logits)
        self._smoothed = raw if self._smoothed is None else self._smoothed + self.alpha * (raw - self._smoothed)
        self._compute_ms.add(pending.frontend_ms + model_ms)
        self._wall_times.append(time.monotonic())
        return self._update(pending, raw)

    def run(self, source: Iterable[AudioChunk]) -> Iterator[GenreUpdate]:
        """Every update of a whole source, then those of the flush."""
        for chunk in source:
            yield from self.process(chunk)
        yield from self.flush()

    @property
    def audio_seconds(self) -> float:
        """Audio received since the last reset, at the model's sample rate."""
        return self._framer.received / self.spec.sample_rate

    def summary(self) -> StreamStats:
        """The whole stream's stats: percentiles over every update so far (histogram)."""
        return self._stats(self._compute_ms.last, *self._compute_ms.run_percentiles([50, 99]))

    def _stats(self, compute_ms: float, p50: float, p99: float) -> StreamStats:
        span = self._wall_times[-1] - self._wall_times[0] if self._wall_times else 0.0
        return StreamStats(
            updates=self._compute_ms.count,
            dropped_frames=self._dropped,
            compute_ms=compute_ms,
            compute_ms_p50=p50,
            compute_ms_p99=p99,
            provider=self.provider,
            updates_per_second=(len(self._wall_times) - 1) / span if span > 0 else 0.0,
            audio_seconds=self.audio_seconds,
            wall_seconds=time.monotonic() - self._started,
            nonfinite_samples=self._framer.conditioner.nonfinite_samples,
        )

    def _run_model(self, pending: list[PendingColumn]) -> list[GenreUpdate]:
        """One model call per column: the single-stream path (stream.multi batches)."""
        updates = []
        for column in pending:
            started = time.perf_counter()
            if self._bind:
                logits = self.model.logits_bound(column.context[None])
            else:
                logits = self.model.logits(self.model_input(column)[None])
            updates.append(self.complete(column, logits[0], (time.perf_counter() - started) * 1e3))
        return updates

    def _update(self, pending: PendingColumn, raw: np.ndarray) -> GenreUpdate:
        if self._compute_ms.count % PERCENTILE_EVERY == 1:
            self._percentiles = self._compute_ms.recent_percentiles([50, 99])
        stats = self._stats(self._compute_ms.last, *self._percentiles)
        newest_db, pitch = self.frontend.to_numpy(pending.context[-1]), pending.pitch
        level = np.round(255 * (1 - newest_db / self.spec.floor_db)).astype(int)
        return GenreUpdate(
            time=self.spec.column_center(pending.column) / self.spec.sample_rate,
            column=pending.column,
            labels=self.labels,
            probabilities=tuple(self._smoothed.tolist()),
            raw_probabilities=tuple(raw.tolist()),
            context_seconds=len(pending.context) * self.spec.column_seconds,
            mel_column=tuple(np.clip(level, 0, 255).tolist()),
            stats=stats,
            chroma=tuple(pitch[0].tolist()) if pitch else (),
            key=pitch[1] if pitch else None,
            uncertain=bool(self._smoothed.max() < self.config.unsure_below),
        )


def numpy_on_one_thread() -> threadpool_limits:
    """Hold this process's numpy to one thread, from now on, or for a ``with`` block.

    Each process that runs models here already has a thread per core doing so (tagging
    workers, Ray actors, the multi-stream model pool); OpenBLAS would start a thread per
    core of its own for the big mel products and fight them for the cores: two tagging
    workers ran 1.15× one, and the scheduler took 1.72 s of CPU per second at 320
    streams with them against 1.48 without.
    """
    return threadpool_limits(1)


def load_engine(
    model_path: Path | None = None, config: EngineConfig = EngineConfig(), prefer_gpu: bool = True
) -> GenreEngine:
    """An engine on one CPU thread (numpy or torch, and onnxruntime), paced or not.

    One update is too small to split across cores: with a second thread every one of the
    model's small operators pays a thread-pool hand-off, and a whole file streamed at 60×
    real time against 220× on one thread. Libraries go faster one file per core
    (stream.library).
    """
    if "torch" in sys.modules:  # the GPU frontend's process: keep torch on one thread too
        sys.modules["torch"].set_num_threads(1)
    return GenreEngine(GenreModel.load(model_path, threads=1, prefer_gpu=prefer_gpu), config)
