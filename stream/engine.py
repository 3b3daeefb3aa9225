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

from genrescope.model.frontend import frame_windows, make_frontend
from genrescope.model.session import CUDA, GenreModel
from genrescope.stream.compute_times import ComputeTimes
from genrescope.stream.conditioning import Conditioner
from genrescope.stream.engine_config import EngineConfig
from genrescope.stream.events import GenreUpdate, StreamStats, hello_message
from genrescope.stream.source import AudioChunk

RATE_WINDOW = 20  # updates over which the live update rate is measured
PERCENTILE_WINDOW = 500  # updates over which the live p50/p99 compute time is taken
# ...refreshed every 8 updates (≈2 s): a percentile costs more than the rest of an update's bookkeeping
PERCENTILE_EVERY = 8


@dataclass(frozen=True)
class RunSummary:
    """What a user wants to know when a stream ends."""

    audio_seconds: float
    wall_seconds: float
    updates: int
    dropped_samples: int
    nonfinite_samples: int
    compute_ms_p50: float
    compute_ms_p99: float
    provider: str

    def text(self) -> str:
        speed = self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else float("inf")
        lines = [
            f"audio {self.audio_seconds:.1f} s in {self.wall_seconds:.1f} s ({speed:.1f}× real time), "
            f"{self.updates} updates",
            f"compute per update: p50 {self.compute_ms_p50:.2f} ms, p99 {self.compute_ms_p99:.2f} ms "
            f"on {self.provider}",
            f"dropped samples: {self.dropped_samples}",
        ]
        if self.nonfinite_samples:
            lines.append(f"NaN/inf samples replaced by silence: {self.nonfinite_samples}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class GenreEngine:
    """Turns a stream of ``AudioChunk``s into ``GenreUpdate``s, one per model column."""

    def __init__(self, model: GenreModel, config: EngineConfig = EngineConfig()):
        self.model = model
        self.config = config
        self.spec = model.card.frontend
        self.frontend = make_frontend(self.spec, config.frontend_device)
        self.context_columns = min(self.spec.context_columns,
                                   max(1, round(config.context_seconds / self.spec.column_seconds)))
        self.min_columns = max(1, math.ceil(config.min_context_seconds / self.spec.column_seconds))
        tau = config.smoothing_seconds
        self.alpha = 1.0 if tau == 0 else 1.0 - math.exp(-self.spec.column_seconds / tau)
        # Device tensors go to the CUDA provider without a host round trip.
        self._bind = str(self.frontend.device) != "cpu" and model.provider == CUDA
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next chunk starts a new one."""
        self._conditioner = Conditioner(self.spec.sample_rate)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # absolute index of _buffer[0] at the model rate
        self._received = 0
        self._next_column = 0
        self._context = self.frontend.empty_context()
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
        self._dropped += chunk.dropped_frames
        self._append(self._conditioner.process(chunk.samples, chunk.sample_rate))
        return self._drain(final=False)

    def flush(self) -> list[GenreUpdate]:
        """End of stream: the resampler's tail and the last, zero-padded columns."""
        self._append(self._conditioner.flush())
        return self._drain(final=True)

    def run(self, source: Iterable[AudioChunk]) -> Iterator[GenreUpdate]:
        """Every update of a whole source, then those of the flush."""
        for chunk in source:
            yield from self.process(chunk)
        yield from self.flush()

    @property
    def audio_seconds(self) -> float:
        """Audio received since the last reset, at the model's sample rate."""
        return self._received / self.spec.sample_rate

    def summary(self) -> RunSummary:
        p50, p99 = self._compute_ms.run_percentiles([50, 99])
        return RunSummary(
            audio_seconds=self.audio_seconds,
            wall_seconds=time.monotonic() - self._started,
            updates=self._compute_ms.count,
            dropped_samples=self._dropped,
            nonfinite_samples=self._conditioner.nonfinite_samples,
            compute_ms_p50=p50,
            compute_ms_p99=p99,
            provider=self.provider,
        )

    def _append(self, audio: np.ndarray) -> None:
        if len(audio):
            self._buffer = np.concatenate([self._buffer, audio])
            self._received += len(audio)

    def _drain(self, final: bool) -> list[GenreUpdate]:
        updates = []
        while self._column_ready(self._next_column, final):
            update = self._step(self._next_column)
            self._next_column += 1
            if update is not None:
                updates.append(update)
        # Drop what no future window needs, but never past the audio received so far:
        # ``_buffer`` always holds samples ``_buffer_start`` … ``_received`` − 1.
        keep_from = min(self._received, self.spec.column_center(self._next_column) - self.spec.n_fft // 2)
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start:]
            self._buffer_start = keep_from
        return updates

    def _column_ready(self, column: int, final: bool) -> bool:
        if final:
            return self.spec.column_center(column) < self._received
        return self.spec.samples_needed(column) <= self._received

    def _step(self, column: int) -> GenreUpdate | None:
        started = time.perf_counter()
        center = np.array([self.spec.column_center(column) - self._buffer_start])
        windows = frame_windows(self._buffer, center, self.spec.n_fft)
        self._context = self.frontend.append_columns(self._context, windows, self.context_columns)
        if len(self._context) < self.min_columns:
            return None
        relative = self.frontend.relative_context(self._context)
        if self._bind:
            logits = self.model.logits_bound(relative[None])
        else:
            logits = self.model.logits(self.frontend.to_numpy(relative)[None])
        raw = self.model.calibrated(logits[0])
        self._smoothed = raw if self._smoothed is None else self._smoothed + self.alpha * (raw - self._smoothed)
        self._compute_ms.add((time.perf_counter() - started) * 1e3)
        self._wall_times.append(time.monotonic())
        return self._update(column, raw, self.frontend.to_numpy(relative[-1]))

    def _update(self, column: int, raw: np.ndarray, newest_db: np.ndarray) -> GenreUpdate:
        if self._compute_ms.count % PERCENTILE_EVERY == 1:
            self._percentiles = self._compute_ms.recent_percentiles([50, 99])
        p50, p99 = self._percentiles
        span = self._wall_times[-1] - self._wall_times[0]
        stats = StreamStats(
            updates=self._compute_ms.count,
            dropped_samples=self._dropped,
            compute_ms=self._compute_ms.last,
            compute_ms_p50=p50,
            compute_ms_p99=p99,
            provider=self.provider,
            updates_per_second=(len(self._wall_times) - 1) / span if span > 0 else 0.0,
        )
        level = np.round(255 * (1 - newest_db / self.spec.floor_db)).astype(int)
        return GenreUpdate(
            time=self.spec.column_center(column) / self.spec.sample_rate,
            column=column,
            labels=self.labels,
            probabilities=tuple(self._smoothed.tolist()),
            raw_probabilities=tuple(raw.tolist()),
            context_seconds=len(self._context) * self.spec.column_seconds,
            mel_column=tuple(np.clip(level, 0, 255).tolist()),
            stats=stats,
        )


def load_engine(model_path: Path | None = None, config: EngineConfig = EngineConfig(),
                prefer_gpu: bool = True) -> GenreEngine:
    """An engine on one CPU thread (numpy or torch, and onnxruntime), paced or not.

    One update is too small to split across cores: with a second thread every one of the
    model's small operators pays a thread-pool hand-off, and a whole file streamed at 60×
    real time against 220× on one thread. Libraries go faster one file per core
    (stream.library).
    """
    if "torch" in sys.modules:  # the GPU frontend's process: keep torch on one thread too
        sys.modules["torch"].set_num_threads(1)
    return GenreEngine(GenreModel.load(model_path, threads=1, prefer_gpu=prefer_gpu), config)
