"""The airplay recorder: each stream's updates, through an online segmenter, into the log.

``serve --log DB`` hands every update here (the batch scheduler's events for named
streams, the engine's updates for a single one). Per stream an ``OnlineSegmenter`` turns
the raw calibrated probabilities into segments; each finished one is written at once, and
the segment still running is checkpointed every ``CHECKPOINT_SECONDS`` of the stream, so
a crash loses at most that much of it (stream.segments.airplay_log closes the checkpoint
on the next start). Listeners (the dashboard's segment band) get the same segments.

The clock: a stream's times are its own audio time, anchored to the wall clock at its
first update. For a live stream that is the wall clock; a file fed faster than real time
(bench/airplay.py) keeps the times it would have had at 1×, so the segmenter's minimum
durations mean seconds of music either way. When a live stream falls more than
``GAP_SECONDS`` behind the wall clock it broke off (a reconnect, a lost device): its
segment ends there (``gap``) and the clock is anchored again. Silence ends a segment too
(``silence``), and no genre is logged while it lasts.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

from genrescope.stream.checks import output_file
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.engine.multi import Event, StreamEnd, StreamUpdate
from genrescope.stream.outputs import held_alone
from genrescope.stream.segments.airplay_log import CHECKPOINT_SECONDS, GAP_SECONDS, AirplayLog
from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.smoother import OnlineSegmenter, Segment

SegmentListener = Callable[[str, list[Segment], "Segment | None"], None]


class _StreamSegments:
    """One stream's segmenter and when its next checkpoint is due."""

    def __init__(self, segmenter: OnlineSegmenter, start_time: float):
        self.segmenter = segmenter
        self.next_checkpoint = start_time + CHECKPOINT_SECONDS


class AirplayRecorder:
    """Segments every stream it is given into ``log`` (None: only for the listeners).
    Thread-safe: the scheduler's thread records, the main thread closes."""

    def __init__(
        self,
        log: AirplayLog | None,
        labels: Sequence[str],
        update_seconds: float,
        config: SegmentConfig = SegmentConfig(),
        clock: Callable[[], float] = time.time,
    ):
        self._log, self._labels, self._update_seconds, self._config = log, tuple(labels), update_seconds, config
        self._clock = clock
        self.listeners: list[SegmentListener] = []
        self._origins: dict[str, float] = {}  # wall time of each stream's audio time 0
        self._streams: dict[str, _StreamSegments] = {}
        self._lock = threading.Lock()

    def update(self, stream: str, update: GenreUpdate, silent: bool = False) -> None:
        """One update of ``stream``; ``silent``: the stream is in silence (nothing to log)."""
        with self._lock:
            time_s, first = self._stream_time(stream, update)
            if silent:
                self._end(stream, "silence")
                return
            state = self._streams.get(stream)
            if state is None:
                start = self._origins[stream] if first else time_s - self._update_seconds
                segmenter = OnlineSegmenter(
                    self._labels, self._config, update_seconds=self._update_seconds, start_s=start
                )
                state = self._streams[stream] = _StreamSegments(segmenter, time_s)
            finished = [(segment, "genre") for segment in state.segmenter.push(time_s, update.raw_probabilities)]
            if finished or time_s >= state.next_checkpoint:
                state.next_checkpoint = time_s + CHECKPOINT_SECONDS
                self._write(stream, finished, state.segmenter.open_segment())

    def end(self, stream: str, reason: str = "stop") -> None:
        """``stream`` ended (or stopped): its segments so far, the last one ended by ``reason``."""
        with self._lock:
            self._end(stream, reason)

    def close(self) -> None:
        """The server stops: every stream's segments so far, written."""
        with self._lock:
            for stream in list(self._streams):
                self._end(stream, "stop")

    def sink(self, event: Event) -> None:
        """The batch scheduler's sink (named streams)."""
        if isinstance(event, StreamUpdate):
            self.update(event.stream, event.update, silent=event.state == "silence")
        elif isinstance(event, StreamEnd):
            self.end(event.stream)

    def watch(self, stream: str, updates: Iterable[GenreUpdate]) -> Iterator[GenreUpdate]:
        """Each of a single stream's updates, passed on once recorded; its end, recorded."""
        for update in updates:
            self.update(stream, update)
            yield update
        self.end(stream)

    def _stream_time(self, stream: str, update: GenreUpdate) -> tuple[float, bool]:
        """The update's time on the stream's clock, and whether it is the stream's first
        (its first segment starts with its audio). A stream that fell behind the wall clock
        broke off: its segment ends and the clock is anchored again."""
        now = self._clock()
        origin = self._origins.get(stream)
        if origin is not None and now - (origin + update.time) > GAP_SECONDS:
            self._end(stream, "gap")
            self._origins[stream] = now - update.time
        first = origin is None
        if first:
            self._origins[stream] = now - update.time
        return self._origins[stream] + update.time, first

    def _end(self, stream: str, reason: str) -> None:
        state = self._streams.pop(stream, None)
        if state is None:
            return
        segments = state.segmenter.flush()
        self._write(
            stream,
            [(segment, "genre") for segment in segments[:-1]] + [(segment, reason) for segment in segments[-1:]],
            None,
        )

    def _write(self, stream: str, finished: list[tuple[Segment, str]], running: Segment | None) -> None:
        """Into the log (wall-clock times), and to the listeners on the stream's own clock
        (the updates' ``time``, which the dashboard draws against)."""
        if self._log is not None:
            self._log.record(stream, finished, running)
        origin = self._origins[stream]

        def own(segment: Segment) -> Segment:
            return replace(segment, start_s=segment.start_s - origin, end_s=segment.end_s - origin)

        for listener in self.listeners:
            listener(stream, [own(segment) for segment, _ in finished], own(running) if running else None)


@contextmanager
def open_recorder(path: Path | None, labels: Sequence[str], update_seconds: float) -> Iterator[AirplayRecorder]:
    """The recorder of a server: logging into ``path`` (``serve --log``; None: segments for
    the dashboard only), which this server holds alone. A checkpoint a killed run left is
    closed first, and said; on the way out every stream's segments so far are written and
    the log is closed."""
    with ExitStack() as stack:
        if path is not None:  # two servers on one log would close each other's running segments
            stack.enter_context(held_alone(path, "`genrescope serve`", "give this server its own --log"))
        log = stack.enter_context(AirplayLog(path)) if path is not None else None
        if log is not None:
            log.set_labels(labels)
            closed = log.close_interrupted()
            if closed:
                print(
                    f"genrescope: airplay log: closed {closed} segment(s) a stopped run left open, at their last "
                    f"checkpoint",
                    file=sys.stderr,
                )
        recorder = AirplayRecorder(log, labels, update_seconds)
        try:
            yield recorder
        finally:
            recorder.close()


def add_log_argument(parser: argparse.ArgumentParser) -> None:
    """``serve --log DB``."""
    parser.add_argument(
        "--log",
        type=_log_file,
        default=None,
        metavar="DB",
        help="keep an airplay log: each stream's genre segments in this SQLite file, kept across "
        f"restarts (the running segment is saved every {CHECKPOINT_SECONDS:g} s; "
        "see `genrescope report`)",
    )


def _log_file(text: str) -> Path:
    if text == "-":
        raise argparse.ArgumentTypeError("the airplay log is a SQLite file: give its path, not '-'")
    return output_file(text)
