"""Pacing: deliver recorded audio no faster than it plays, like a live source.

A file or the synthesised demo can produce audio far faster than real time; a served
stream (``--realtime``, ``--serve``, ``serve --source demo``) must not, or its watchers
would see half an hour of a song in a minute.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from genrescope.stream.sources.chunk import AudioChunk


def paced(chunks: Iterable[AudioChunk]) -> Iterator[AudioChunk]:
    """``chunks`` at 1× speed: each waits until the audio before it has had time to play.

    The schedule is kept against the start, not chunk to chunk, so sleeps that overshoot
    do not add up into drift.
    """
    started, delivered = time.monotonic(), 0.0
    for chunk in chunks:
        time.sleep(max(0.0, started + delivered - time.monotonic()))
        delivered += chunk.seconds
        yield chunk
