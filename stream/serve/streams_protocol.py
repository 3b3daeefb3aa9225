"""Protocol v2: the messages of a multi-stream server (v1 is stream.events).

v2 is v1 with a stream id. Every message a multi-stream server sends carries
``"stream": NAME`` and ``"v": 2``; updates add ``state`` (``live`` or ``silence``),
``gaps`` (connection breaks so far) and, when the station sends one, ``title``. Two
messages are new: ``status`` (a stream's state or title changed: ``connecting``,
``live``, ``silence``, ``reconnecting``; sent even while no update flows) and, first
on the all-streams socket ``/ws``, ``streams`` (every stream's hello). ``/ws?stream=NAME``
is one stream's v1-shaped conversation (hello, history, updates, lag, end) in v2 form,
each carrying the stream. On ``/ws``, ``history`` and ``lag`` span every stream, so they
carry ``"v": 2`` and no ``stream`` (each update inside names its own). A server started
with one unnamed ``--source`` speaks v1 exactly as before.
"""

from __future__ import annotations

from typing import Any

from genrescope.stream.engine.events import end_message
from genrescope.stream.engine.multi import StreamEnd, StreamStatus, StreamUpdate

PROTOCOL_VERSION = 2


def envelope(stream: str | None = None) -> dict[str, Any]:
    """What a v2 message carries besides its type: the version, and the stream it is about
    (none on ``/ws``'s own ``history`` and ``lag``, which span every stream)."""
    return {"v": PROTOCOL_VERSION} if stream is None else {"v": PROTOCOL_VERSION, "stream": stream}


def _tagged(message: dict[str, Any], stream: str) -> dict[str, Any]:
    message.update(envelope(stream))
    return message


def stream_hello(hello: dict[str, Any], stream: str, state: str) -> dict[str, Any]:
    """A v1 hello (engine.hello) with the stream's id and current state."""
    return _tagged({**hello, "state": state}, stream)


def streams_message(hellos: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "streams", "v": PROTOCOL_VERSION, "streams": hellos}


def update_message(event: StreamUpdate) -> dict[str, Any]:
    message = _tagged(event.update.to_message(), event.stream)
    message.update(state=event.state, gaps=event.gaps)
    if event.title:
        message["title"] = event.title
    return message


def status_message(event: StreamStatus) -> dict[str, Any]:
    message = {"type": "status", "state": event.state, "gaps": event.gaps}
    if event.title:
        message["title"] = event.title
    return _tagged(message, event.stream)


def stream_end_message(event: StreamEnd) -> dict[str, Any]:
    return _tagged(end_message(event.summary.text(), event.summary.to_dict(), event.error), event.stream)
