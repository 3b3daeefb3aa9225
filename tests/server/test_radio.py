"""A real radio stream: Debian's icecast2 on a free port, fed by ``ffmpeg -re`` from a
real MP3, monitored by a real ``genrescope serve``. The feeder is killed mid-stream and
started again; the stream comes back by itself, with the gap counted and the station's
title carried in the updates."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from harness import genrescope, receive
from icecast import ICECAST, feeder, icecast_server

TITLE = "Muddy Waters - After Hours"


@pytest.fixture
def icecast():
    if not shutil.which(ICECAST):
        if os.environ.get("GENRESCOPE_REQUIRE_AUDIO") == "1":
            pytest.fail("GENRESCOPE_REQUIRE_AUDIO=1 but icecast2 is not installed (scripts/setup.sh installs it)")
        pytest.skip("icecast2 is not installed (apt-get install icecast2)")
    with icecast_server() as server:
        yield server


def test_a_radio_stream_survives_its_encoder_restarting(icecast, music_clips: list[Path],
                                                         test_model_path: Path) -> None:
    mount = "radio.mp3"
    feeders = [feeder(music_clips[1], icecast, mount)]

    async def scenario(url: str) -> None:
        async with connect(url, max_size=None) as client:
            hello = await receive(client)
            assert (hello["type"], hello["v"], hello["stream"]) == ("hello", 2, "radio")
            seen: list[dict] = []
            await _until(client, seen, lambda m: m.get("title") == TITLE and m.get("column", -1) >= 8)
            feeders[0].kill()  # the station's encoder dies mid-stream...
            await _until(client, seen, lambda m: m["type"] == "status" and m["state"] == "reconnecting")
            feeders.append(feeder(music_clips[1], icecast, mount))  # ...and comes back
            await _until(client, seen, lambda m: m["type"] == "update" and m["gaps"] == 1)
            back = seen[-1]
            assert back["stats"]["dropped_samples"] > 0  # the gap, counted as lost audio
            assert back["title"] == TITLE
            columns = [m["column"] for m in seen if m["type"] == "update"]
            assert columns == list(range(columns[0], columns[0] + len(columns)))  # none skipped, none repeated
            states = [m["state"] for m in seen if m["type"] == "status"]
            assert states[states.index("reconnecting"):] == ["reconnecting", "live"]

    try:
        icecast.wait_mounted(mount)
        icecast.set_title(mount, TITLE)
        with genrescope("serve", "--source", f"radio={icecast.url(mount)}", "--model", str(test_model_path)) as server:
            asyncio.run(scenario(server.ws_url + "?stream=radio"))
    finally:
        for process in feeders:
            process.kill()
            process.wait()


async def _until(client, messages: list[dict], done) -> None:
    """Every update and status message into ``messages``, up to the first one ``done`` accepts."""
    while True:
        message = await receive(client)
        for item in message["updates"] if message["type"] == "history" else [message]:
            if item["type"] in ("update", "status"):
                messages.append(item)
                if done(item):
                    return
