"""``genrescope file X --segments OUT``: the segments of one stream, written when it ends.

A file is finite, so its updates are decoded exactly (offline Viterbi over the whole
recording, ``lag=False``): the memory is a few hundred bytes per update, ≈4 MB an hour.
A stream stopped with Ctrl-C still gets the segments of what was heard.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from genrescope.stream.cli.checks import OutputError
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.formats import write_segments
from genrescope.stream.segments.smoother import OnlineSegmenter, Segment


class SegmentRecorder:
    """Watches a stream's updates; ``write`` puts its segments into a file."""

    def __init__(self, labels: Iterable[str], update_seconds: float, config: SegmentConfig = SegmentConfig()):
        self.config = config
        self._segmenter = OnlineSegmenter(labels, config, update_seconds=update_seconds, lag=False)
        self._segments: list[Segment] = []

    def watch(self, updates: Iterable[GenreUpdate]) -> Iterator[GenreUpdate]:
        """Each update, passed on once the segmenter has it (its raw calibrated probabilities:
        the smoother does its own smoothing)."""
        for update in updates:
            self._segments += self._segmenter.push(update.time, update.raw_probabilities)
            yield update

    def finish(self, end_s: float) -> list[Segment]:
        """Every segment of the stream so far, the last one ending at ``end_s``; the stream is over."""
        self._segments += self._segmenter.flush(end_s)
        return self._segments

    def write(self, path: Path, source: str, model_version: str, end_s: float) -> list[Segment]:
        """Write the segments of the audio up to ``end_s`` to ``path`` (format by
        extension) and say so in one line."""
        segments = self.finish(end_s)
        try:
            write_segments(path, segments, source, model_version, self.config)
        except OSError as error:  # the disk filled or the folder went while the file streamed
            raise OutputError(f"cannot write the segments {path}: {error.strerror or error}") from error
        print(f"segments: {len(segments)} → {path}", file=sys.stderr)
        return segments
