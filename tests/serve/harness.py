"""Helpers for the server tests: a real server in the test's event loop, and clients."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from genrescope.stream.engine.engine import GenreEngine
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.serve.server import GenreServer, ServerConfig
from support import REPO, cli_command

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
async def running(feed: Feed, hello_extra: dict[str, Any] | None = None, **config: Any) -> AsyncIterator[GenreServer]:
    """A started server for ``feed``; ``config`` overrides fields of TEST_CONFIG."""
    hello = feed.engine.hello(feed.source_name, hello_extra)
    server = GenreServer(hello, feed.updates, feed.engine.summary, replace(TEST_CONFIG, **config))
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


async def first_updates(url: str, count: int) -> list[dict[str, Any]]:
    """Connect to ``url`` and return every message up to the ``count``-th update."""
    async with connect(url) as client:
        messages = [await receive(client)]
        while sum(m["type"] == "update" for m in messages) < count:
            messages.append(await receive(client))
        return messages


@dataclass
class ServeProcess:
    """A running ``genrescope`` command that serves, and where."""

    process: subprocess.Popen[str]
    port: int

    @property
    def page_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@contextmanager
def genrescope(*arguments: str, port: int = 0) -> Iterator[ServeProcess]:
    """``genrescope ARGUMENTS`` (on a free port by default) as a real process, once it serves.

    It is terminated on the way out if the test left it running; a test that stops it
    itself reads its exit status and stderr from ``process``."""
    process = subprocess.Popen(  # `-m` from the repository root imports this checkout
        cli_command(*arguments, "--port", str(port)),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield ServeProcess(process, _announced_port(process))
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(PATIENCE_SECONDS)


def _announced_port(process: subprocess.Popen[str]) -> int:
    """The port from the server's "serving http://host:port/" line on stderr."""
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        found = re.search(r"serving http://[^ ]*:(\d+)/", line)
        if found:
            return int(found.group(1))
    raise AssertionError("genrescope exited before serving:\n" + "".join(lines))
