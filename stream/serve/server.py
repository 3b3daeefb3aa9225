"""Serve one engine's updates over websockets, and the live dashboard, on one port.

The engine is a blocking generator, so it runs in a worker thread; each update is
serialised there once and handed to the event loop with ``call_soon_threadsafe``, where
the ``Hub`` queues it for every client. Clients only ever read: the websocket path is
``/ws``, every other GET is answered from ``web/`` (see webstatic.py), and nothing a
client sends can name a file or change the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from genrescope.stream.engine.events import GenreUpdate, StreamStats, end_message
from genrescope.stream.outputs import quiet_broken_pipe
from genrescope.stream.serve.access import AccessPolicy, generate_token, is_loopback
from genrescope.stream.serve.hub import Hub, Subscriber
from genrescope.stream.serve.webstatic import StaticSite
from genrescope.stream.sources.redaction import redact

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
WS_PATH = "/ws"
ENGINE_JOIN_SECONDS = 3.0  # a source blocked in a driver gets this long to let go
DRAIN_SECONDS = 2.0  # with --exit-at-end, how long clients get to receive the end
CLOSE_SECONDS = 2.0  # a stalled client cannot answer the closing handshake: don't wait long

log = logging.getLogger("genrescope.server")
# websockets logs every plain HTTP response at INFO; only its problems matter here.
_websockets_log = logging.getLogger("genrescope.server.websockets")
_websockets_log.setLevel(logging.WARNING)


class ServerError(Exception):
    """The server cannot start (the port is taken, the address is not ours): one line."""


@dataclass(frozen=True)
class ServerConfig:
    """Where and to whom the stream is served."""

    host: str = "127.0.0.1"
    port: int = 8765  # 0 picks a free port (see GenreServer.url)
    allow_remote: bool = False  # required to bind anything but loopback
    token: str | None = None  # generated when remote and not given
    allowed_origins: tuple[str, ...] = ()  # browser origins besides the dashboard's own
    queue_size: int = 64  # per client, ≈15 s of updates; the oldest go first
    history_size: int = 256  # recent updates a joining client gets at once: ≈60 s
    # Bytes a slow client may have in flight (user space, and again in the kernel)
    # before its queue starts to fill: small, so it lags seconds behind, not minutes.
    send_buffer_bytes: int = 16 * 1024
    max_message_bytes: int = 1024  # clients have nothing to say; bigger closes them
    exit_at_end: bool = False  # stop once a finite source ended and clients got `end`
    web_dir: Path = field(default=WEB_DIR)

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("--token is empty: give a secret, or leave it out (generated when remote)")
        if not is_loopback(self.host) and not self.allow_remote:
            raise ValueError(
                f"binding to {self.host} exposes the stream to the network; "
                "pass --allow-remote (a token is then required)"
            )

    def resolved(self) -> ServerConfig:
        """This config with a fresh token when the server is remote and none was given."""
        if self.token is None and not is_loopback(self.host):
            return dataclasses.replace(self, token=generate_token())
        return self

    def access_policy(self) -> AccessPolicy:
        return AccessPolicy(
            token=self.token,
            allowed_origins=frozenset(origin.lower().rstrip("/") for origin in self.allowed_origins),
            loopback_only=is_loopback(self.host),
        )


def to_text(message: dict[str, Any]) -> str:
    """A protocol message as compact JSON, the form every client receives."""
    return json.dumps(message, separators=(",", ":"))


class GenreServer:
    """One update stream, broadcast to every websocket client; an async context manager.

    ``hello`` is the stream's greeting (``engine.hello(...)``), ``updates`` the engine's
    generator (``engine.run(source)``) and ``summary`` gives the run summary
    (``engine.summary``) once the updates ended. Leaving the context stops the engine
    and closes every client.
    """

    def __init__(
        self,
        hello: dict[str, Any],
        updates: Iterator[GenreUpdate],
        summary: Callable[[], StreamStats],
        config: ServerConfig,
    ):
        self._setup(config)
        self._hub = Hub(to_text(hello), self.config.queue_size, self.config.history_size)
        self._updates = updates
        self._summary = summary
        self._engine = threading.Thread(target=self._pump, name="genrescope-engine", daemon=True)

    def _setup(self, config: ServerConfig) -> None:
        """What every server has, whatever it serves (see stream.multiserver)."""
        self.config = config.resolved()
        self.ended = asyncio.Event()  # set once the `end` message went out
        self._engine_error: str | None = None  # why the engine stopped, when an error stopped it
        self._access = self.config.access_policy()
        self._site = StaticSite(self.config.web_dir)
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None

    def engine_error(self) -> str | None:
        """Why the engine stopped, when an error stopped it (the clients were told)."""
        return self._engine_error

    def _hubs(self) -> list[Hub]:
        return [self._hub]

    def _hub_for(self, path: str) -> Hub | None:
        """The hub a websocket request subscribes to (None: no such stream)."""
        return self._hub

    def _start_engine(self) -> None:
        self._engine.start()

    def _stop_engine(self) -> None:
        """Wait (in a worker thread) for the engine to stop."""
        self._engine.join(ENGINE_JOIN_SECONDS)
        if self._engine.is_alive():
            log.warning("the engine did not stop within %.0f s; leaving it behind", ENGINE_JOIN_SECONDS)

    def _http(self, connection: ServerConnection, request: Request) -> Response:
        """The answer to a plain HTTP GET: a dashboard file."""
        return self._site.response(connection, request.path)

    async def __aenter__(self) -> GenreServer:
        self._loop = asyncio.get_running_loop()
        try:
            self._server = await serve(
                self._handle,
                self.config.host,
                self.config.port,
                process_request=self._route,
                compression=None,  # small messages; compressing each per client costs CPU
                max_size=self.config.max_message_bytes,
                write_limit=self.config.send_buffer_bytes,
                close_timeout=CLOSE_SECONDS,
                logger=_websockets_log,
            )
        except OSError as error:
            if isinstance(error, socket.gaierror):  # a host name that does not resolve
                reason = error.strerror
            else:
                reason = os.strerror(error.errno) if error.errno else str(error)
            raise ServerError(f"cannot listen on {self.config.host}:{self.config.port}: {reason}") from error
        self._start_engine()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stopping.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        await asyncio.to_thread(self._stop_engine)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The dashboard's address, with the token when one is required."""
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        query = f"?token={self.config.token}" if self.config.token else ""
        return f"http://{host}:{self.port}/{query}"

    @property
    def clients(self) -> int:
        return sum(len(hub) for hub in self._hubs())

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until every client's queue is empty."""
        deadline = asyncio.get_running_loop().time() + timeout
        while any(hub.pending() for hub in self._hubs()) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    # --- engine thread -------------------------------------------------------------

    def _pump(self) -> None:
        """Run the engine, handing each serialised update to the loop; then the end."""
        error = None
        try:
            for update in self._updates:
                self._to_loop(self._hub.publish, to_text(update.to_message()))
                if self._stopping.is_set():
                    break
        except BrokenPipeError:  # an output of the stream lost its reader (`--jsonl - | head`)
            log.warning("the stream's output pipe was closed by its reader; the stream stopped")
            quiet_broken_pipe()
        except Exception as exc:  # the engine failed: tell the clients, keep serving
            log.exception("the engine stopped on an error")
            error = self._engine_error = redact(f"{type(exc).__name__}: {exc}")  # it may name the source's URL
        finally:
            close = getattr(self._updates, "close", None)
            if close is not None:
                close()  # in this thread: the generator's cleanup releases the source
        if not self._stopping.is_set():
            summary = self._summary()
            self._to_loop(self._finish, to_text(end_message(summary.text(), summary.to_dict(), error)))

    def _to_loop(self, callback: Callable[[str], None], text: str) -> None:
        """Schedule ``callback(text)`` on the loop, unless the loop is already gone."""
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # closed: shutting down, nobody listens
            self._loop.call_soon_threadsafe(callback, text)

    def _finish(self, text: str) -> None:
        self._hub.finish(text)
        self.ended.set()

    def share(self, stream: str, message: dict[str, Any]) -> None:
        """A stream's snapshot message (its segments) from any thread, for its clients now
        and later (``Hub.share``); a single-stream server has one stream, whatever its name."""
        self._to_loop(self._hub.share, to_text(message))

    # --- event loop: HTTP and websocket clients --------------------------------------

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        """Static files for plain GETs; the access checks for the websocket path (and
        the Host check for both: DNS rebinding reaches plain pages too)."""
        websocket = urlsplit(request.path).path == WS_PATH
        if websocket:
            refusal = self._access.refusal(request.path, request.headers)
        else:
            refusal = self._access.host_refusal(request.headers)
        if refusal is None:
            if not websocket:
                return self._http(connection, request)
            if self._hub_for(request.path) is None:
                return connection.respond(http.HTTPStatus.NOT_FOUND, "No such stream\n")
            return None
        log.warning("refused %s from %s: %s", "websocket" if websocket else "request", _peer(connection), refusal)
        return connection.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")

    async def _handle(self, connection: ServerConnection) -> None:
        """Serve one client until it leaves or the server closes."""
        _limit_send_buffer(connection, self.config.send_buffer_bytes)
        hub = self._hub_for(connection.request.path)
        assert hub is not None  # _route refused the others
        subscriber = hub.subscribe()
        log.info("client %s joined (%d connected)", _peer(connection), self.clients)
        sender = asyncio.create_task(self._send_all(connection, subscriber))
        try:
            await _ignore_incoming(connection, self.config.max_message_bytes)
        finally:
            sender.cancel()
            hub.unsubscribe(subscriber)
            log.info(
                "client %s left; %d messages dropped for it (%d connected)",
                _peer(connection),
                subscriber.dropped,
                self.clients,
            )

    async def _send_all(self, connection: ServerConnection, subscriber: Subscriber) -> None:
        """The greeting, then the queue; a ``lag`` notice precedes a message after drops."""
        reported = 0
        try:
            for text in subscriber.greeting:
                await connection.send(text)
            while True:
                text = await subscriber.get()
                if subscriber.dropped != reported:
                    reported = subscriber.dropped
                    await connection.send(subscriber.lag_text())
                await connection.send(text)
        except ConnectionClosed:
            pass  # the reader notices too and ends the handler


async def _ignore_incoming(connection: ServerConnection, max_bytes: int) -> None:
    """Read until the client leaves. The protocol is one-way: whatever a client sends
    is dropped, and logged once per client so a chatty one cannot flood the log."""
    ignored = 0
    try:
        async for message in connection:
            ignored += 1
            if ignored == 1:
                log.warning("ignoring messages from %s, first: %.80r", _peer(connection), message)
    except ConnectionClosedError as exc:
        if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
            log.warning("closed %s: message over %d bytes", _peer(connection), max_bytes)
    if ignored > 1:
        log.info("ignored %d messages from %s", ignored, _peer(connection))


def _limit_send_buffer(connection: ServerConnection, size: int) -> None:
    """Cap the kernel's send buffer too, or it would hold minutes of a stalled client's
    updates (Linux grows it to megabytes) before our queue ever saw a drop."""
    sock = connection.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _peer(connection: ServerConnection) -> str:
    host, port = connection.remote_address[:2]
    return f"{host}:{port}"


def run_server(
    hello: dict[str, Any],
    updates: Iterator[GenreUpdate],
    summary: Callable[[], StreamStats],
    config: ServerConfig,
    on_server: Callable[[GenreServer], None] | None = None,
) -> str | None:
    """Serve until Ctrl-C or SIGTERM (or the end of the source, with ``exit_at_end``).

    The blocking entry point of ``genrescope serve`` and ``--serve``; it prints the
    dashboard's address (with the token, if any) to stderr. Returns why the engine
    stopped when an error stopped it (the server kept serving its last state), else None.
    ``on_server`` sees the server once built, before it starts (to connect more outputs).
    """

    def make_server() -> GenreServer:
        server = GenreServer(hello, updates, summary, config)
        if on_server is not None:
            on_server(server)
        return server

    return asyncio.run(serve_until_stopped(make_server))


async def serve_until_stopped(make_server: Callable[[], GenreServer]) -> str | None:
    """Run the server ``make_server`` builds until Ctrl-C, SIGTERM or (with
    ``exit_at_end``) its end; prints its address; returns the engine's error, if any."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with make_server() as server:
        print(f"genrescope: serving {server.url}  (websocket: {WS_PATH})", file=sys.stderr, flush=True)
        waits = {asyncio.create_task(stop.wait())}
        if server.config.exit_at_end:
            waits.add(asyncio.create_task(server.ended.wait()))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        if server.ended.is_set() and not stop.is_set():
            await server.drain(DRAIN_SECONDS)
    print("genrescope: server stopped", file=sys.stderr, flush=True)
    return server.engine_error()
