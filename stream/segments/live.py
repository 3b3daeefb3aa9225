"""The ``segments`` message: a stream's recent genre segments for the dashboard's band.

Protocol v1 and v2, additive (clients that do not know it ignore it). A snapshot, not a
change: each message holds the stream's last ``RECENT_SEGMENTS`` finished segments and
the one still running, so a client replaces what it had, and a client that joins gets the
newest one right after the ``history``::

    {"type": "segments", "v": 1, "recent": [SEGMENT, ...], "open": SEGMENT | null}
    SEGMENT = {"start_s": 12.0, "end_s": 61.5, "genre": "Rock", "mean_probability": 0.62, "unsure": false}

Times are seconds on the stream's own clock, the clock of the updates' ``time``. A v2
server adds ``"stream": NAME`` and sends it on that stream's socket (``/ws?stream=NAME``)
only. It is sent when a segment finishes and with each checkpoint of the running one
(every 5 s of stream): ≈0.2 messages a second, ≈1-2 KB each.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genrescope.stream.segments.smoother import Segment

if TYPE_CHECKING:
    from genrescope.stream.segments.airplay import AirplayRecorder

RECENT_SEGMENTS = 20  # a 30-minute band at the smoother's shortest segments (30 s) holds ≤ 60; most hold far fewer


def segments_message(
    recent: list[Segment], running: Segment | None, version: int, stream: str | None = None
) -> dict[str, object]:
    message: dict[str, object] = {
        "type": "segments",
        "v": version,
        "recent": [s.to_json() for s in recent],
        "open": running.to_json() if running is not None else None,
    }
    if stream is not None:
        message["stream"] = stream
    return message


class SegmentFeed:
    """An ``AirplayRecorder`` listener that keeps each stream's recent segments and hands
    the snapshot message to ``share(stream, message)`` (the server's)."""

    def __init__(self, share: Callable[[str, dict[str, object]], None], version: int, tag_stream: bool):
        self._share, self._version, self._tag_stream = share, version, tag_stream
        self._recent: dict[str, deque[Segment]] = {}

    def __call__(self, stream: str, finished: list[Segment], running: Segment | None) -> None:
        recent = self._recent.setdefault(stream, deque(maxlen=RECENT_SEGMENTS))
        recent.extend(finished)
        self._share(
            stream, segments_message(list(recent), running, self._version, stream if self._tag_stream else None)
        )


def feed_server(recorder: AirplayRecorder, version: int, tag_stream: bool) -> Callable[[Any], None]:
    """What connects a built server (its ``share``) to ``recorder``: run_server's
    ``on_server``, or called on a MultiStreamServer as it is made."""

    def connect(server: Any) -> None:
        recorder.listeners.append(SegmentFeed(server.share, version, tag_stream))

    return connect
