"""Many streams, one model: a scheduler that batches every stream's ready contexts.

Each stream keeps what is its own — a ``GenreEngine`` (conditioner, context, smoother,
statistics) and a silence gate — and shares the model. One reading thread per source
puts its blocks into a common inbox, so a slow or dead source (a stalled radio, an
unplugged card) only stops its own blocks; a machine too slow for its streams makes
the readers wait instead of the inbox grow (backlog.py). Every tick (half a model column, ≈117 ms)
the scheduler takes everything that arrived, runs one FFT, mel product and chroma over
the new columns of all streams (per stream, those few numpy calls cost more in Python
overhead than in arithmetic), lets each engine update its context, and runs the contexts
through the model in one call per context length, at most ``max_batch`` at a time. A
batch goes out as soon as it is full, onto ``workers`` threads (one per core:
onnxruntime releases the GIL, and one session serves concurrent calls), so the model
computes while the scheduler's thread prepares the next streams and completes the
updates of the batches that came back: the Python work and the model overlap instead
of taking turns.

Why group by length rather than pad: the model is a CNN then a recurrent layer over
time, so padding a short context (a stream in its first 30 s) with floor-level columns
would change its logits; contexts of one length are batched exactly (the batched logits
equal the single ones to float rounding, see tests/engine/test_multi.py). After its first 30 s
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from genrescope.model.session import GenreModel
from genrescope.stream.engine.backlog import Backlog
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.engine.engine import GenreEngine, PendingColumn, numpy_on_one_thread
from genrescope.stream.engine.events import GenreUpdate, StreamStats
from genrescope.stream.engine.framing import ColumnWindows
from genrescope.stream.engine.silence import SilenceGate
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.redaction import redact

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


Event = StreamUpdate | StreamStatus | StreamEnd
Sink = Callable[[Event], None]
_ENDED = object()  # a source's last inbox item
_STATUS = object()  # a source changed its state (or a network stream its title)


class Stream:
    """One named stream: its source, its own engine and silence gate, and its state."""

    def __init__(self, name: str, source: Iterable[AudioChunk], engine: GenreEngine):
        self.name = name
        self.source = source
        self.engine = engine
        self.backlog = Backlog()  # its audio waiting in the inbox, bounded (backlog.py)
        self.gate = SilenceGate()
        self.state = "connecting"
        self.error: str | None = None
        self.thread: threading.Thread | None = None
        # gaps as of the newest block taken: a source counts a gap with the block carrying its
        # dropped frames, so an update never shows the gap before the engine has its frames
        self.gaps = 0

    @property
    def title(self) -> str | None:
        return getattr(self.source, "title", None)

    def source_gaps(self) -> int:
        """The source's gap count now (its reading thread's view, taken with each block)."""
        return getattr(self.source, "gaps", 0)

    def status(self) -> StreamStatus:
        return StreamStatus(self.name, self.state, self.title, self.gaps)


@dataclass
class BatchSizes:
    """How full the model calls were, for the bench (bench/streams.py), in constant
    memory: a server runs for days (≈400,000 calls a day at 8 streams)."""

    calls: int = 0
    contexts: int = 0
    largest: int = 0

    def add(self, size: int) -> None:
        self.calls += 1
        self.contexts += size
        self.largest = max(self.largest, size)

    @property
    def mean(self) -> float:
        """Contexts per model call; 0 before the first."""
        return self.contexts / self.calls if self.calls else 0.0


class BatchScheduler:
    """Runs every stream's columns through one shared model, batched per tick."""

    def __init__(
        self,
        model: GenreModel,
        sources: Sequence[tuple[str, Iterable[AudioChunk]]],
        sinks: Sequence[Sink],
        config: EngineConfig = EngineConfig(),
        max_batch: int = MAX_BATCH,
        tick_seconds: float | None = None,
        workers: int | None = None,
    ):
        self.model = model
        self.streams = [Stream(name, source, GenreEngine(model, config)) for name, source in sources]
        self.sinks = list(sinks)
        self.max_batch = max_batch
        spec = model.card.frontend
        self.tick_seconds = spec.column_seconds / 2 if tick_seconds is None else tick_seconds
        self.batch_sizes = BatchSizes()
        self.error: str | None = None  # why scheduling stopped, when an error (not the streams' end) stopped it
        self._pool = ThreadPoolExecutor(workers or os.cpu_count() or 1, thread_name_prefix="genrescope-model")
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genrescope-scheduler", daemon=True)

    def start(self) -> None:
        for stream in self.streams:
            if hasattr(stream.source, "on_state"):  # network streams and microphones report their state
                stream.source.on_state = lambda _, stream=stream: self._inbox.put(
                    (stream, _STATUS, 0.0, stream.source_gaps())
                )
            stream.thread = threading.Thread(
                target=self._read, args=(stream,), name=f"source-{stream.name}", daemon=True
            )
            stream.thread.start()
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop scheduling, close the sources that can be closed, wait for the scheduler
        and the reading threads. A reading thread left running holds its stream (and the
        engine's native resampler) into interpreter exit, where nanobind reports it as a
        leak; each returns within one block once ``_stopping`` is set."""
        self._stopping.set()
        self._close_sources()
        deadline = time.monotonic() + timeout
        for thread in [self._thread, *(stream.thread for stream in self.streams if stream.thread)]:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop in time; leaving it behind", thread.name)
        self._pool.shutdown(wait=False)

    def _close_sources(self) -> None:
        for stream in self.streams:
            close = getattr(stream.source, "close", None)
            if close is not None:
                close()

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
                if not stream.backlog.reserve(chunk.seconds, self._stopping):
                    return
                self._inbox.put((stream, chunk, time.monotonic(), stream.source_gaps()))
                if self._stopping.is_set():
                    return
        except Exception as error:  # a source that fails ends its own stream only
            stream.error = redact(f"{type(error).__name__}: {error}")  # it may name the source's URL
            log.warning("stream %s: the source failed: %s", stream.name, stream.error)
        self._inbox.put((stream, _ENDED, time.monotonic(), stream.source_gaps()))

    # --- the scheduler thread ---------------------------------------------------------

    def _run(self) -> None:
        # the mel product over every stream's new columns is big enough for OpenBLAS
        # threads, which would fight the model pool for the cores
        with numpy_on_one_thread():
            try:
                self._schedule()
            except Exception as error:  # the shared model failed (a GPU out of memory): no stream can go on
                log.exception("the scheduler stopped on an error")
                self.error = f"{type(error).__name__}: {error}"
                self._end_all()

    def _end_all(self) -> None:
        """After an error: the sources stop reading, and every stream ends saying why."""
        self._stopping.set()
        self._close_sources()
        for stream in self.streams:
            if stream.state != "ended":
                self._end(stream, stream.error or self.error)

    def _schedule(self) -> None:
        next_tick = time.monotonic()
        while not self._stopping.is_set() and any(stream.state != "ended" for stream in self.streams):
            next_tick = max(next_tick + self.tick_seconds, time.monotonic() - self.tick_seconds)
            self._stopping.wait(max(0.0, next_tick - time.monotonic()))
            self.tick()

    def tick(self) -> None:
        """Everything that arrived since the last tick, through the model in batches.

        Three steps, so that Python work per column is small and overlaps the model:
        every block's new windows (cheap), one FFT, mel product and chroma over all of
        them, then each stream's context; a batch goes to the model pool as soon as it
        is full, so the pool computes while the later streams are still being prepared,
        and the updates are completed in arrival order as their batches come back.
        A block leaves its stream's backlog only once its updates went out, so that the
        readers cannot refill the inbox while this tick drains it.
        """
        arrived_work: list[tuple[Stream, ColumnWindows, str, float]] = []
        ended: list[Stream] = []
        taken: list[tuple[Stream, float]] = []
        while True:
            try:
                stream, item, arrived, gaps = self._inbox.get_nowait()
            except queue.Empty:
                break
            stream.gaps = gaps
            if item is _STATUS:
                self._status(stream, stream.source.state)
            elif item is _ENDED:
                arrived_work.append((stream, stream.engine.take_final_windows(), stream.state, arrived))
                ended.append(stream)
            else:
                taken.append((stream, item.seconds))
                arrived_work.append((stream, stream.engine.take_windows(item), self._gate(stream, item), arrived))
        for stream, pending, state, arrived, row in self._submit(arrived_work):
            logits, model_ms = row.result()
            update = stream.engine.complete(pending, logits, model_ms)
            lag_ms = (time.monotonic() - arrived) * 1e3
            self._emit(StreamUpdate(stream.name, update, state, stream.title, stream.gaps, lag_ms))
        for stream, seconds in taken:
            stream.backlog.release(seconds)
        for stream in ended:
            self._end(stream, stream.error)

    def _end(self, stream: Stream, error: str | None) -> None:
        stream.state = "ended"
        self._emit(StreamEnd(stream.name, stream.engine.summary(), error))

    def _gate(self, stream: Stream, chunk: AudioChunk) -> str:
        """The stream's state after this block ("silence" or "live"), announced on change."""
        state = "silence" if stream.gate.feed(chunk.samples, chunk.seconds) else "live"
        if state != stream.state:
            self._status(stream, state)
        return state

    def _submit(
        self, work: list[tuple[Stream, ColumnWindows, str, float]]
    ) -> list[tuple[Stream, PendingColumn, str, float, _Row]]:
        """Every new column's context, each handed to a model batch; in arrival order."""
        stacked = [windows.windows for _, windows, _, _ in work if windows.columns]
        if not stacked:
            return []
        features = work[0][0].engine.features(np.concatenate(stacked))
        batches = _Batches(self._pool, self._timed_logits, self.max_batch, self.batch_sizes)
        submitted, offset = [], 0
        for stream, windows, state, arrived in work:
            count = len(windows.columns)
            for pending in stream.engine.accept(windows, features.rows(offset, offset + count)):
                submitted.append((stream, pending, state, arrived, batches.add(stream.engine.model_input(pending))))
            offset += count
        batches.close()
        return submitted

    def _status(self, stream: Stream, state: str) -> None:
        if state == "live" and stream.gate.silent:
            state = "silence"
        stream.state = state
        self._emit(stream.status())

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


class _Batch:
    """Contexts of one length on their way to one model call."""

    def __init__(self) -> None:
        self.contexts: list[np.ndarray] = []
        self.future: Future | None = None


@dataclass(frozen=True)
class _Row:
    """One context's place in a batch: its logits and its share of the call's time."""

    batch: _Batch
    index: int

    def result(self) -> tuple[np.ndarray, float]:
        logits, ms = self.batch.future.result()  # type: ignore[union-attr]
        return logits[self.index], ms / len(self.batch.contexts)


class _Batches:
    """Contexts grouped by length (the model batches only equal lengths exactly); each
    group goes to the pool as soon as it holds ``max_batch`` contexts."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        run: Callable[[np.ndarray], tuple[np.ndarray, float]],
        max_batch: int,
        sizes: BatchSizes,
    ):
        self._pool, self._run, self._max_batch, self._sizes = pool, run, max_batch, sizes
        self._open: dict[int, _Batch] = {}

    def add(self, context: np.ndarray) -> _Row:
        batch = self._open.setdefault(len(context), _Batch())
        batch.contexts.append(context)
        row = _Row(batch, len(batch.contexts) - 1)
        if len(batch.contexts) == self._max_batch:
            self._send(self._open.pop(len(context)))
        return row

    def close(self) -> None:
        """Send the groups that did not fill up."""
        for batch in self._open.values():
            self._send(batch)
        self._open.clear()

    def _send(self, batch: _Batch) -> None:
        self._sizes.add(len(batch.contexts))
        batch.future = self._pool.submit(self._run, np.stack(batch.contexts))
