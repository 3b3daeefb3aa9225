"""A slow, stalled, chatty or hostile client never costs the engine or the others."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError
from websockets.frames import CloseCode

from genrescope.stream.serve.server import GenreServer
from harness import receive, receive_until_end, running, wait_for, ws_url

CLIENTS = 100
WINDOW_SECONDS = 4.0


async def stalled_client(server: GenreServer) -> ClientConnection:
    """A client that reads nothing until told: tiny socket buffer, one-frame queue."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    return await connect(ws_url(server), sock=sock, max_queue=1)


def updates_and_dropped(messages: list[dict]) -> tuple[int, int]:
    """Updates received, and the dropped count of the last ``lag`` notice (0 if none)."""
    lags = [m["dropped"] for m in messages if m["type"] == "lag"]
    return sum(m["type"] == "update" for m in messages), (lags[-1] if lags else 0)


def test_a_stalled_client_loses_old_updates_counted_and_stalls_nobody(make_feed) -> None:
    gate = threading.Event()

    async def scenario() -> tuple[list[dict], list[dict]]:
        async with running(make_feed(realtime=False, gate=gate), queue_size=8) as server:
            stalled = await stalled_client(server)
            async with connect(ws_url(server)) as reader:
                await wait_for(lambda: server.clients == 2)
                gate.set()
                # The engine runs through the whole file and the reader gets the end
                # while the stalled client has read nothing at all.
                read = await receive_until_end(reader)
            stalled_read = await receive_until_end(stalled)
            await stalled.close()
            return read, stalled_read

    read, stalled_read = asyncio.run(scenario())
    total = read[-1]["totals"]["updates"]
    assert sum(updates_and_dropped(read)) == total
    received, dropped = updates_and_dropped(stalled_read)
    assert dropped > 0 and received + dropped == total
    # Drop-oldest: what the stalled client still gets is the newest part of the stream.
    assert stalled_read[-2]["type"] == "update" and stalled_read[-2]["column"] == read[-2]["column"]


def test_a_hundred_clients_each_keep_the_full_rate(make_feed) -> None:
    async def count_updates(client: ClientConnection, until: float) -> int:
        count = 0
        while asyncio.get_running_loop().time() < until:
            count += (await receive(client))["type"] == "update"
        return count

    async def scenario() -> tuple[list[int], float]:
        async with running(make_feed(realtime=True)) as server:
            clients = [await connect(ws_url(server)) for _ in range(CLIENTS)]
            hellos = [await receive(client) for client in clients]
            for client in clients:  # everyone is past the engine's first-second warm-up
                while (await receive(client))["type"] != "update":
                    pass
            until = asyncio.get_running_loop().time() + WINDOW_SECONDS
            counts = await asyncio.gather(*(count_updates(client, until) for client in clients))
            for client in clients:
                await client.close()
            spec = hellos[0]["frontend"]
            return counts, spec["frames_per_column"] * spec["hop_length"] / spec["sample_rate"]

    counts, column_seconds = asyncio.run(scenario())
    expected = WINDOW_SECONDS / column_seconds
    assert len(counts) == CLIENTS
    assert min(counts) >= 0.8 * expected, f"slowest client got {min(counts)} of ≈{expected:.0f} updates"


def test_junk_from_clients_is_ignored_and_oversized_messages_close_only_the_sender(
    make_feed, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[list[dict], int | None]:
        async with (
            running(make_feed(realtime=True)) as server,
            connect(ws_url(server)) as chatty,
            connect(ws_url(server)) as flooder,
        ):
            for junk in ("not json", b"\x00\xff binary", '{"type":"hello"}', '{"source":"/etc/passwd"}'):
                await chatty.send(junk)
            await flooder.send("x" * (server.config.max_message_bytes + 1))
            with pytest.raises(ConnectionClosedError):
                while True:
                    await receive(flooder)
            messages = [await receive(chatty) for _ in range(6)]
            return messages, flooder.close_code

    with caplog.at_level(logging.INFO, logger="genrescope.server"):
        messages, flooder_close = asyncio.run(scenario())
    assert flooder_close == CloseCode.MESSAGE_TOO_BIG
    assert messages[0]["type"] == "hello"
    updates = messages[1:]  # the chatty client is still served, without a gap
    assert [m["type"] for m in updates] == ["update"] * 5
    assert [m["column"] for m in updates] == list(range(updates[0]["column"], updates[0]["column"] + 5))
    logged = caplog.text
    assert "ignoring messages from" in logged and "not json" in logged
    assert "ignored 4 messages" in logged
    assert "message over 1024 bytes" in logged
