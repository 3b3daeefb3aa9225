"""Helpers for the server tests: a real server in the test's event loop, and clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from websockets.asyncio.client import ClientConnection

from stream.engine import GenreEngine
from stream.events import GenreUpdate
from stream.server import GenreServer, ServerConfig

# Tests take a free port, so they never collide with anything else on the machine.
TEST_CONFIG = ServerConfig(port=0)
# Guards against a hang, never a measurement: generous on a loaded 2-core machine.
PATIENCE_SECONDS = 60.0


@dataclass
class Feed:
    """What a GenreServer serves: one fresh engine and its update generator."""

    engine: GenreEngine
    updates: Iterator[GenreUpdate]
    source_name: str


@asynccontextmanager
async def running(feed: Feed, **config: Any) -> AsyncIterator[GenreServer]:
    """A started server for ``feed``; ``config`` overrides fields of TEST_CONFIG."""
    server = GenreServer(
        feed.engine.hello(feed.source_name), feed.updates, feed.engine.summary, replace(TEST_CONFIG, **config)
    )
    async with server:
        yield server


def ws_url(server: GenreServer, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/ws{query}"


async def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` on the loop until it holds."""
    async with asyncio.timeout(PATIENCE_SECONDS):
        while not predicate():
            await asyncio.sleep(0.01)


async def receive(connection: ClientConnection) -> dict[str, Any]:
    """The next message, parsed."""
    async with asyncio.timeout(PATIENCE_SECONDS):
        return json.loads(await connection.recv())


async def receive_until_end(connection: ClientConnection) -> list[dict[str, Any]]:
    """Every message up to and including ``end``."""
    messages = [await receive(connection)]
    while messages[-1]["type"] != "end":
        messages.append(await receive(connection))
    return messages
