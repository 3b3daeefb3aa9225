"""A real radio stream: Debian's icecast2 on a free port, fed by ``ffmpeg -re`` from a
real MP3, monitored by a real ``genrescope serve``. The feeder is killed mid-stream and
started again; the stream comes back by itself, with the gap counted and the station's
title carried in the updates. And a live HLS playlist, written by ``ffmpeg -re`` and
served by a real HTTP server, read through FFmpeg's own HTTP client."""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from harness import genrescope, receive
from icecast import ICECAST, feeder, icecast_server
from genrescope.stream.netsource import NetworkSource

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


def test_an_hls_stream_plays_through_ffmpeg(music_clips: list[Path], tmp_path: Path) -> None:
    """A live HLS playlist (ffmpeg -re writing AAC segments, served by a real HTTP server)."""
    encoder = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(music_clips[0]),
         "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "4", "-hls_flags", "delete_segments",
         str(tmp_path / "live.m3u8")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        _wait_for_file(tmp_path / "live.m3u8")
        source = NetworkSource(f"http://127.0.0.1:{web.server_address[1]}/live.m3u8")
        seconds = 0.0
        for chunk in source:
            assert chunk.samples.shape[1] == 2 and chunk.dropped_frames == 0
            seconds += chunk.seconds
            if seconds >= 5.0:
                break
        assert source.state == "live" and source.gaps == 0
    finally:
        web.shutdown()
        encoder.kill()
        encoder.wait()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test's output stays readable
        pass


def _wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)
