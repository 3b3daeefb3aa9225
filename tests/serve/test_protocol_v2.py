"""Protocol v2 as described (stream/protocol_schema.py; every message these tests receive
is validated against it by conftest's fixture): on a named stream's socket ``lag`` and
``history`` carry ``"v": 2`` and the stream, and the history a client gets on joining
stays within what a default websocket client accepts (1 MiB) however many streams and
however long the history."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from genrescope.model.session import GenreModel
from genrescope.stream.engine.engine import EngineConfig
from genrescope.stream.engine.multi import BatchScheduler
from genrescope.stream.serve.hub import HISTORY_BYTES
from genrescope.stream.serve.multiserver import MultiStreamServer
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.filesource import FileSource
from harness import PATIENCE_SECONDS, TEST_CONFIG, receive

DEFAULT_MAX_SIZE = 2**20  # a websockets client's default max_size: a bigger message closes it (1009)
STREAMS = 64  # × ≈21 updates of the short file ≈ 1.3 MB of updates: past the limit


class GatedFile:
    """``music`` as fast as it decodes, once ``gate`` is open: the streams start only when
    the test's clients are connected (else a loaded machine may end them first)."""

    def __init__(self, music: Path, gate: threading.Event):
        self.music, self.gate = music, gate

    def __iter__(self) -> Iterator[AudioChunk]:
        self.gate.wait(PATIENCE_SECONDS)
        yield from FileSource(self.music)


def _server(
    genre_model: GenreModel, music: Path, count: int, gate: threading.Event | None = None, **config
) -> MultiStreamServer:
    """Every stream reads ``music`` as fast as it decodes (after ``gate``), so the streams end soon."""
    sources = [(f"s{i:02d}", GatedFile(music, gate) if gate else FileSource(music)) for i in range(count)]
    scheduler = BatchScheduler(genre_model, sources, [], EngineConfig())
    streams = {stream.name: stream for stream in scheduler.streams}
    return MultiStreamServer(scheduler, lambda name: streams[name].engine.hello(name), replace(TEST_CONFIG, **config))


async def _stalled(port: int, path: str) -> ClientConnection:
    """A client that reads nothing until told: tiny socket buffer, one-frame queue."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return await connect(f"ws://127.0.0.1:{port}{path}", sock=sock, max_queue=1, max_size=None)


def test_a_named_streams_lag_and_history_carry_v2_and_the_stream(genre_model: GenreModel, music_file: Path) -> None:
    """A minute of updates (≈256, some 300 KB) is more than the socket buffers between the
    server and a stalled client hold, so its queue overflows; 5 s of them did not always."""

    async def scenario() -> tuple[list[dict], dict]:
        gate = threading.Event()
        server = _server(genre_model, music_file, 2, gate, queue_size=2)
        async with server:
            stalled = await _stalled(server.port, "/ws?stream=s01")
            gate.set()
            async with asyncio.timeout(PATIENCE_SECONDS):
                await server.ended.wait()
            read = [await receive(stalled)]
            while read[-1]["type"] != "end":
                read.append(await receive(stalled))
            await stalled.close()
            async with connect(f"ws://127.0.0.1:{server.port}/ws?stream=s01", max_size=None) as late:
                await receive(late)  # hello
                return read, await receive(late)

    read, history = asyncio.run(scenario())
    lags = [message for message in read if message["type"] == "lag"]
    assert lags and all((lag["v"], lag["stream"]) == (2, "s01") for lag in lags)
    assert (history["type"], history["v"], history["stream"]) == ("history", 2, "s01")
    assert {update["stream"] for update in history["updates"]} == {"s01"}


def test_the_history_on_joining_fits_a_default_client(genre_model: GenreModel, short_music_file: Path) -> None:
    async def scenario() -> tuple[dict, int, int]:
        server = _server(genre_model, short_music_file, STREAMS, history_size=100_000)
        async with server:
            async with asyncio.timeout(PATIENCE_SECONDS * 3):
                await server.ended.wait()
            published = sum(hub.published for hub in server._stream_hubs.values())
            async with connect(f"ws://127.0.0.1:{server.port}/ws") as client:  # max_size left at its default
                assert (await receive(client))["type"] == "streams"
                text = await client.recv()
                return json.loads(text), len(text), published

    history, size, published = asyncio.run(scenario())
    assert history["type"] == "history" and "stream" not in history
    assert HISTORY_BYTES - 16 * 1024 < size <= DEFAULT_MAX_SIZE  # as much as fits (an update is < 16 KB), no more
    assert 0 < len(history["updates"]) < published  # the oldest gave way
