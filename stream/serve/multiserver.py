"""Serve many named streams on one port: the batch scheduler's events over websockets
(protocol v2, see stream.streams_protocol), the overview and per-stream dashboards, the
OBS overlay and the Prometheus metrics.

Each stream has its own ``Hub`` (``/ws?stream=NAME``: that stream's conversation, for
the detailed dashboard and the overlay), and one more hub carries every stream's
messages (``/ws``: the overview). The scheduler's thread serialises each message once
and hands it to the event loop, as the single-stream server does.
"""

from __future__ import annotations

import functools
import http
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from genrescope.stream.engine.multi import BatchScheduler, Event, StreamEnd, StreamStatus, StreamUpdate
from genrescope.stream.serve.hub import Hub
from genrescope.stream.serve.metrics import CONTENT_TYPE, StreamMetrics
from genrescope.stream.serve.server import GenreServer, ServerConfig, log, to_text
from genrescope.stream.serve.streams_protocol import (
    envelope,
    status_message,
    stream_end_message,
    stream_hello,
    streams_message,
    update_message,
)

OVERVIEW_PAGE = "/streams.html"  # what / shows when there are several streams
METRICS_PATH = "/metrics"
ALL_STREAMS_QUEUE_LIMIT = 4096  # messages queued per overview client, whatever the stream count


class MultiStreamServer(GenreServer):
    """Every stream of a ``BatchScheduler``, served; an async context manager like
    ``GenreServer``. ``hello`` gives a stream's v1 hello (``engine.hello``) by name."""

    def __init__(self, scheduler: BatchScheduler, hello: Callable[[str], dict[str, Any]], config: ServerConfig):
        self._setup(config)
        self._scheduler = scheduler
        self._names = [stream.name for stream in scheduler.streams]
        self._hellos = {name: hello(name) for name in self._names}
        self._states = {stream.name: stream.status() for stream in scheduler.streams}
        queue, history = self.config.queue_size, self.config.history_size
        self._stream_hubs = {name: Hub(self._hello_text(name), queue, history, envelope(name)) for name in self._names}
        every = len(self._names)
        self._all = Hub(
            self._streams_text(),
            min(queue * every, ALL_STREAMS_QUEUE_LIMIT),
            min(history * every, ALL_STREAMS_QUEUE_LIMIT),
            envelope(),
        )
        self._ended: set[str] = set()
        self.metrics = StreamMetrics()
        self.metrics.add_streams(self._names)
        scheduler.sinks += [self.metrics.sink, self._on_event]

    # --- GenreServer's hooks ----------------------------------------------------------

    def _hubs(self) -> list[Hub]:
        return [self._all, *self._stream_hubs.values()]

    def _hub_for(self, path: str) -> Hub | None:
        names = parse_qs(urlsplit(path).query).get("stream")
        return self._all if not names else self._stream_hubs.get(names[0])

    def engine_error(self) -> str | None:
        return self._scheduler.error

    def _start_engine(self) -> None:
        self._scheduler.start()

    def _stop_engine(self) -> None:
        self._scheduler.stop()  # says which of its threads did not stop in time

    def _http(self, connection: ServerConnection, request: Request) -> Response:
        path = urlsplit(request.path).path
        if path == METRICS_PATH:
            return self._metrics_response(connection, request)
        if path == "/":
            return self._site.response(connection, OVERVIEW_PAGE)
        return self._site.response(connection, request.path)

    def _metrics_response(self, connection: ServerConnection, request: Request) -> Response:
        """The metrics, behind the same token as the websocket when the server is remote."""
        refusal = self._access.refusal(request.path, request.headers)
        if refusal is not None:
            log.warning("refused /metrics: %s", refusal)
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")
        response = connection.respond(http.HTTPStatus.OK, "")
        response.body = self.metrics.text()
        for name, value in {"Content-Type": CONTENT_TYPE, "Content-Length": str(len(response.body))}.items():
            del response.headers[name]
            response.headers[name] = value
        return response

    # --- the scheduler's events (its thread) → the loop ------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, StreamUpdate):
            self._to_loop(functools.partial(self._publish, event.stream), to_text(update_message(event)))
        elif isinstance(event, StreamStatus):
            self._to_loop(functools.partial(self._status, event), to_text(status_message(event)))
        elif isinstance(event, StreamEnd):
            self._to_loop(functools.partial(self._end, event.stream), to_text(stream_end_message(event)))

    # --- the event loop ---------------------------------------------------------------

    def _publish(self, stream: str, text: str) -> None:
        self._stream_hubs[stream].publish(text)
        self._all.publish(text)

    def _status(self, event: StreamStatus, text: str) -> None:
        self._states[event.stream] = event
        self._stream_hubs[event.stream].announce(text, self._hello_text(event.stream))
        self._all.announce(text, self._streams_text())

    def _end(self, stream: str, text: str) -> None:
        self._states[stream] = StreamStatus(stream, "ended", self._states[stream].title, self._states[stream].gaps)
        self._stream_hubs[stream].finish(text)
        self._all.announce(text, self._streams_text())
        self._ended.add(stream)
        if len(self._ended) == len(self._names):
            self.ended.set()

    def share(self, stream: str, message: dict[str, Any]) -> None:
        """A stream's snapshot (its segments), for that stream's clients only: the
        overview has no use for it."""
        self._to_loop(self._stream_hubs[stream].share, to_text(message))

    def _hello_text(self, name: str) -> str:
        return to_text(self._hello(name))

    def _hello(self, name: str) -> dict[str, Any]:
        status = self._states[name]
        hello = stream_hello(self._hellos[name], name, status.state)
        hello["gaps"] = status.gaps
        if status.title:
            hello["title"] = status.title
        return hello

    def _streams_text(self) -> str:
        return to_text(streams_message([self._hello(name) for name in self._names]))
