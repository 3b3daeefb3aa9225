"""The protocol as a real client sees it: hello, updates at the engine's pace, end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

from websockets.asyncio.client import connect

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.engine.events import PROTOCOL_VERSION
from harness import receive, receive_until_end, running, wait_for, ws_url
from support import REPO

WINDOW_SECONDS = 4.0


def test_hello_then_updates_at_the_engine_rate(make_feed) -> None:
    async def scenario() -> tuple[dict, list[dict]]:
        async with running(make_feed(realtime=True)) as server, connect(ws_url(server)) as client:
            hello = await receive(client)
            first = await receive(client)  # the engine's first update needs 1 s of audio
            updates = first["updates"] if first["type"] == "history" else [first]
            in_window = 0
            window = asyncio.get_running_loop().time() + WINDOW_SECONDS
            while asyncio.get_running_loop().time() < window:
                updates.append(await receive(client))
                in_window += 1
            return hello, updates, in_window

    hello, updates, in_window = asyncio.run(scenario())
    spec = FrontendSpec.from_json(json.dumps(hello["frontend"]))
    assert (hello["type"], hello["v"], hello["source"]) == ("hello", PROTOCOL_VERSION, "loop.wav")
    assert len(hello["labels"]) == 8
    assert in_window >= 0.8 * WINDOW_SECONDS / spec.column_seconds
    columns = [update["column"] for update in updates]
    assert columns == list(range(columns[0], columns[0] + len(columns)))
    for update in updates:
        assert update["type"] == "update"
        assert update["top"] == max(update["probabilities"], key=update["probabilities"].get)
        assert list(update["probabilities"]) == hello["labels"]
        assert len(update["mel"]) == spec.n_mels and all(0 <= v <= 255 for v in update["mel"])


def test_a_client_gets_every_update_in_order_then_the_end(make_feed) -> None:
    gate = threading.Event()

    async def scenario() -> list[dict]:
        async with (
            running(make_feed(realtime=False, gate=gate), queue_size=10_000) as server,
            connect(ws_url(server)) as client,
        ):
            await wait_for(lambda: server.clients == 1)
            gate.set()
            return await receive_until_end(client)

    messages = asyncio.run(scenario())
    hello, updates, end = messages[0], messages[1:-1], messages[-1]
    assert hello["type"] == "hello" and end["type"] == "end"
    assert [u["column"] for u in updates] == list(range(updates[0]["column"], updates[-1]["column"] + 1))
    assert end["totals"]["updates"] == len(updates)
    assert end["error"] is None
    assert f"{len(updates)} updates" in end["summary"]


def test_a_late_client_gets_the_hello_the_last_minute_and_the_end(make_feed) -> None:
    async def scenario() -> list[dict]:
        async with running(make_feed(realtime=False), history_size=100) as server:
            await asyncio.wait_for(server.ended.wait(), 60)
            async with connect(ws_url(server)) as client:
                return [await receive(client) for _ in range(3)]

    hello, history, end = asyncio.run(scenario())
    assert (hello["type"], history["type"], end["type"]) == ("hello", "history", "end")
    columns = [update["column"] for update in history["updates"]]
    assert columns == list(range(columns[0], columns[0] + 100))  # the newest 100, in order
    assert end["totals"]["updates"] > 100
    assert end["totals"]["audio_seconds"] > 59


def test_the_example_client_prints_the_stream(make_feed) -> None:
    gate = threading.Event()

    async def scenario() -> str:
        async with running(make_feed(realtime=False, gate=gate), queue_size=10_000) as server:
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                str(REPO / "examples" / "client.py"),
                ws_url(server),
                stdout=subprocess.PIPE,
            )
            await wait_for(lambda: server.clients == 1)
            gate.set()
            output, _ = await asyncio.wait_for(client.communicate(), 60)
            assert client.returncode == 0
            return output.decode()

    lines = asyncio.run(scenario()).splitlines()
    assert lines[0].startswith("loop.wav: Electronic, Experimental")
    update_lines = [line for line in lines if " s  " in line and line.endswith("%")]
    assert len(update_lines) > 200  # a minute of audio is ≈256 updates
    assert any("updates" in line for line in lines[-4:])  # the summary closes the output
