"""Many streams, one model: a scheduler that batches every stream's ready contexts.

Each stream keeps what is its own — a ``GenreEngine`` (conditioner, context, smoother,
statistics) and a silence gate — and shares the model. One reading thread per source
puts its blocks into a common inbox, so a slow or dead source (a stalled radio, an
unplugged card) only stops its own blocks. Every tick (half a model column, ≈117 ms)
the scheduler takes everything that arrived, lets each engine prepare the columns its
blocks completed, and runs all the prepared contexts through the model in one call per
context length, at most ``max_batch`` at a time; the calls of one tick run side by side
on ``workers`` threads (one per core: onnxruntime releases the GIL, and one session
serves concurrent calls), since a session pinned to one thread would leave the other
cores idle.

Why group by length rather than pad: the model is a CNN then a recurrent layer over
time, so padding a short context (a stream in its first 30 s) with floor-level columns
would change its logits; contexts of one length are batched exactly (the batched logits
equal the single ones to float rounding, see tests/test_multi.py). After its first 30 s
every stream has the full 128-column context, so the steady state is one length.

The scheduler hands what it produces (``StreamUpdate``, ``StreamStatus``, ``StreamEnd``)
to the sinks, in its own thread and in each stream's order: the websocket server, the
Prometheus metrics and the OSC output.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Union

import numpy as np

from genrescope.model.session import GenreModel
from genrescope.stream.engine import GenreEngine, PendingColumn
from genrescope.stream.engine_config import EngineConfig
from genrescope.stream.events import GenreUpdate, StreamStats
from genrescope.stream.silence import SilenceGate
from genrescope.stream.source import AudioChunk

log = logging.getLogger(__name__)

MAX_BATCH = 8  # contexts per model call: per-context cost grows past this on the CPU (bench/streams.py)


@dataclass(frozen=True)
class StreamUpdate:
    stream: str
    update: GenreUpdate
    state: str  # "live" or "silence"
    title: str | None  # the station's now-playing title, when the stream has one
    gaps: int  # connection breaks so far
    lag_ms: float  # from the block's arrival to this update


@dataclass(frozen=True)
class StreamStatus:
    """A change of a stream's state (connecting, live, reconnecting, silence) or title."""

    stream: str
    state: str
    title: str | None
    gaps: int


@dataclass(frozen=True)
class StreamEnd:
    stream: str
    summary: StreamStats
    error: str | None


Event = Union[StreamUpdate, StreamStatus, StreamEnd]
Sink = Callable[[Event], None]
_ENDED = object()  # a source's last inbox item
_STATUS = object()  # a source changed its state (or a network stream its title)


class Stream:
    """One named stream: its source, its own engine and silence gate, and its state."""

    def __init__(self, name: str, source: Iterable[AudioChunk], engine: GenreEngine):
        self.name = name
        self.source = source
        self.engine = engine
        self.gate = SilenceGate()
        self.state = "connecting"
        self.error: str | None = None
        self.thread: threading.Thread | None = None

    @property
    def title(self) -> str | None:
        return getattr(self.source, "title", None)

    @property
    def gaps(self) -> int:
        return getattr(self.source, "gaps", 0)

    def status(self) -> StreamStatus:
        return StreamStatus(self.name, self.state, self.title, self.gaps)


class BatchScheduler:
    """Runs every stream's columns through one shared model, batched per tick."""

    def __init__(self, model: GenreModel, sources: Sequence[tuple[str, Iterable[AudioChunk]]],
                 sinks: Sequence[Sink], config: EngineConfig = EngineConfig(), max_batch: int = MAX_BATCH,
                 tick_seconds: float | None = None, workers: int | None = None):
        self.model = model
        self.streams = [Stream(name, source, GenreEngine(model, config)) for name, source in sources]
        self.sinks = list(sinks)
        self.max_batch = max_batch
        spec = model.card.frontend
        self.tick_seconds = spec.column_seconds / 2 if tick_seconds is None else tick_seconds
        self.batch_sizes: list[int] = []  # every model call's batch size, for the bench
        self._pool = ThreadPoolExecutor(workers or os.cpu_count() or 1, thread_name_prefix="genrescope-model")
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genrescope-scheduler", daemon=True)

    def start(self) -> None:
        for stream in self.streams:
            if hasattr(stream.source, "on_state"):  # network streams and microphones report their state
                stream.source.on_state = lambda _, stream=stream: self._inbox.put((stream, _STATUS, 0.0))
            stream.thread = threading.Thread(target=self._read, args=(stream,), name=f"source-{stream.name}",
                                             daemon=True)
            stream.thread.start()
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop scheduling, close the sources that can be closed, wait for the scheduler."""
        self._stopping.set()
        for stream in self.streams:
            close = getattr(stream.source, "close", None)
            if close is not None:
                close()
        self._thread.join(timeout)
        self._pool.shutdown(wait=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every stream ended (finite sources); whether they did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # --- reading threads ------------------------------------------------------------

    def _read(self, stream: Stream) -> None:
        try:
            for chunk in stream.source:
                self._inbox.put((stream, chunk, time.monotonic()))
                if self._stopping.is_set():
                    return
        except Exception as error:  # a source that fails ends its own stream only
            log.warning("stream %s: the source failed: %s", stream.name, error)
            stream.error = f"{type(error).__name__}: {error}"
        self._inbox.put((stream, _ENDED, time.monotonic()))

    # --- the scheduler thread ---------------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stopping.is_set() and any(stream.state != "ended" for stream in self.streams):
            next_tick = max(next_tick + self.tick_seconds, time.monotonic() - self.tick_seconds)
            self._stopping.wait(max(0.0, next_tick - time.monotonic()))
            self.tick()

    def tick(self) -> None:
        """Everything that arrived since the last tick, through the model in batches."""
        pending: list[tuple[Stream, PendingColumn, str, float]] = []
        ended: list[Stream] = []
        while True:
            try:
                stream, item, arrived = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is _STATUS:
                self._status(stream, stream.source.state)
            elif item is _ENDED:
                pending += [(stream, column, stream.state, arrived) for column in stream.engine.flush_pending()]
                ended.append(stream)
            else:
                pending += self._prepare(stream, item, arrived)
        logits = self._model_rows([stream.engine.model_input(column) for stream, column, _, _ in pending])
        for (stream, column, state, arrived), (row, model_ms) in zip(pending, logits):
            update = stream.engine.complete(column, row, model_ms)
            lag_ms = (time.monotonic() - arrived) * 1e3
            self._emit(StreamUpdate(stream.name, update, state, stream.title, stream.gaps, lag_ms))
        for stream in ended:
            stream.state = "ended"
            self._emit(StreamEnd(stream.name, stream.engine.summary(), stream.error))

    def _prepare(self, stream: Stream, chunk: AudioChunk, arrived: float
                 ) -> list[tuple[Stream, PendingColumn, str, float]]:
        silent = stream.gate.feed(chunk.samples, chunk.seconds)
        state = "silence" if silent else "live"
        if state != stream.state:
            self._status(stream, state)
        return [(stream, column, state, arrived) for column in stream.engine.prepare(chunk)]

    def _status(self, stream: Stream, state: str) -> None:
        if state == "live" and stream.gate.silent:
            state = "silence"
        stream.state = state
        self._emit(stream.status())

    def _model_rows(self, contexts: list[np.ndarray]) -> list[tuple[np.ndarray, float]]:
        """Logits for every context, one model call per context length and ``max_batch``;
        each row with its share of its call's time (ms)."""
        rows: list[tuple[np.ndarray, float] | None] = [None] * len(contexts)
        by_length: dict[int, list[int]] = {}
        for index, context in enumerate(contexts):
            by_length.setdefault(len(context), []).append(index)
        batches = [indices[start:start + self.max_batch]
                   for indices in by_length.values() for start in range(0, len(indices), self.max_batch)]
        for batch, (logits, ms) in zip(batches, self._pool.map(self._timed_logits, [
                np.stack([contexts[i] for i in batch]) for batch in batches])):
            self.batch_sizes.append(len(batch))
            for i, row in zip(batch, logits):
                rows[i] = (row, ms / len(batch))
        return rows  # type: ignore[return-value]

    def _timed_logits(self, contexts: np.ndarray) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        logits = self.model.logits(contexts)
        return logits, (time.perf_counter() - started) * 1e3

    def _emit(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # an output failing must not stop the streams
                log.exception("an output failed on %s", type(event).__name__)
