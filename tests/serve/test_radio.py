"""A real radio stream: Debian's icecast2 on a free port, fed by ``ffmpeg -re`` from a
real MP3, monitored by a real ``genrescope serve``. The feeder is killed mid-stream and
started again; the stream comes back by itself, with the gap counted and the station's
title carried in the updates. The feeder is also frozen (SIGSTOP): Icecast keeps the
listener's connection open and sends nothing, and the source must notice the stall by
itself. And a live HLS playlist, written by ``ffmpeg -re`` and served by a real HTTP
server, read through FFmpeg's own HTTP client, also when its encoder freezes."""

from __future__ import annotations

import asyncio
import functools
import http.server
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from genrescope.model.session import GenreModel
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.engine.multi import BatchScheduler
from genrescope.stream.serve.multiserver import MultiStreamServer
from genrescope.stream.sources.netsource import NetworkSource
from harness import PATIENCE_SECONDS, TEST_CONFIG, genrescope, receive
from icecast import ICECAST, feeder, icecast_server

TITLE = "Muddy Waters - After Hours"
STALL_SECONDS = 2.0  # the tests' stall timeout: shorter than Icecast's own source-timeout (10 s)
STALLED = "(stalled); reconnecting"
# how long a station stays off air: longer than a reconnect's replayed or burst audio
OUTAGE_SECONDS = 4.0


@pytest.fixture
def icecast():
    if not shutil.which(ICECAST):
        if os.environ.get("GENRESCOPE_REQUIRE_AUDIO") == "1":
            pytest.fail("GENRESCOPE_REQUIRE_AUDIO=1 but icecast2 is not installed (scripts/setup.sh installs it)")
        pytest.skip("icecast2 is not installed (apt-get install icecast2)")
    with icecast_server() as server:
        yield server


def test_a_radio_stream_survives_its_encoder_restarting(
    icecast, music_clips: list[Path], test_model_path: Path
) -> None:
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
            # off air for a while: a new encoder's start-up burst is audio delivered ahead of the wall
            # clock, which the gap accounting nets out (gap_ledger.py); a short outage may cost nothing
            await asyncio.sleep(OUTAGE_SECONDS)
            feeders.append(feeder(music_clips[1], icecast, mount))  # ...and comes back
            await _until(client, seen, lambda m: m["type"] == "update" and m["gaps"] == 1)
            back = seen[-1]
            assert back["stats"]["dropped_samples"] > 0  # the gap, counted as lost audio
            assert back["title"] == TITLE
            columns = [m["column"] for m in seen if m["type"] == "update"]
            assert columns == list(range(columns[0], columns[0] + len(columns)))  # none skipped, none repeated
            states = [m["state"] for m in seen if m["type"] == "status"]
            assert states[states.index("reconnecting") :] == ["reconnecting", "live"]

    try:
        icecast.wait_mounted(mount)
        icecast.set_title(mount, TITLE)
        with genrescope("serve", "--source", f"radio={icecast.url(mount)}", "--model", str(test_model_path)) as server:
            asyncio.run(scenario(server.ws_url + "?stream=radio"))
    finally:
        for process in feeders:
            process.kill()
            process.wait()


def test_a_stalled_radio_stream_is_noticed_and_reconnected(
    icecast, music_clips: list[Path], genre_model: GenreModel, caplog: pytest.LogCaptureFixture
) -> None:
    """The encoder freezes: the connection stays open, no byte comes. The source gives
    the connection up after its stall timeout, reconnects by itself once the encoder
    runs again, and the gap is counted in the updates."""
    mount = "stalled.mp3"
    encoder = feeder(music_clips[1], icecast, mount)
    source = NetworkSource(icecast.url(mount), stall_seconds=STALL_SECONDS)

    async def scenario() -> list[dict]:
        scheduler = BatchScheduler(genre_model, [("radio", source)], [], EngineConfig())
        server = MultiStreamServer(scheduler, lambda name: scheduler.streams[0].engine.hello(name), TEST_CONFIG)
        async with server, connect(f"ws://127.0.0.1:{server.port}/ws?stream=radio", max_size=None) as client:
            assert (await receive(client))["type"] == "hello"
            seen: list[dict] = []
            await _until(client, seen, lambda m: m["type"] == "update" and m["column"] >= 4)
            encoder.send_signal(signal.SIGSTOP)  # frozen: Icecast holds the listener, sending nothing
            await _until(client, seen, lambda m: m["type"] == "status" and m["state"] == "reconnecting")
            encoder.send_signal(signal.SIGCONT)  # the encoder runs again (within Icecast's source-timeout)
            await _until(client, seen, lambda m: m["type"] == "update" and m["gaps"] >= 1)
            back = seen[-1]["column"]
            await _until(client, seen, lambda m: m["type"] == "update" and m["column"] >= back + 4)  # and flows on
            return seen

    try:
        icecast.wait_mounted(mount)
        with caplog.at_level(logging.WARNING, logger="genrescope.stream.sources.netsource"):
            seen = asyncio.run(scenario())
    finally:
        encoder.send_signal(signal.SIGCONT)
        encoder.kill()
        encoder.wait()
    assert any(STALLED in record.getMessage() for record in caplog.records), caplog.text  # noticed, not closed
    updates = [m for m in seen if m["type"] == "update"]
    first_back = next(m for m in updates if m["gaps"] >= 1)
    assert first_back["stats"]["dropped_samples"] > 0  # the gap, counted as lost audio
    assert source.gaps >= 1 and source.gap_seconds > 0 and updates[-1]["gaps"] == source.gaps
    columns = [m["column"] for m in updates]
    assert columns == list(range(columns[0], columns[0] + len(columns)))  # none skipped, none repeated
    states = [m["state"] for m in seen if m["type"] == "status"]
    assert states[states.index("reconnecting") :][-1] == "live" and updates[-1]["state"] == "live"


async def _until(client, messages: list[dict], done) -> None:
    """Every update and status message into ``messages``, up to the first one ``done``
    accepts (within a long while: a scenario that never comes fails, not hangs)."""
    async with asyncio.timeout(2 * PATIENCE_SECONDS):
        await _collect(client, messages, done)


async def _collect(client, messages: list[dict], done) -> None:
    while True:
        message = await receive(client)
        for item in message["updates"] if message["type"] == "history" else [message]:
            if item["type"] in ("update", "status"):
                messages.append(item)
                if done(item):
                    return


def test_an_hls_stream_plays_through_ffmpeg(music_clips: list[Path], tmp_path: Path) -> None:
    """A live HLS playlist (ffmpeg -re writing AAC segments, served by a real HTTP server)."""
    with _hls_stream(music_clips[0], tmp_path) as (_, url):
        source = NetworkSource(url)
        seconds = 0.0
        for chunk in source:
            assert chunk.samples.shape[1] == 2 and chunk.dropped_frames == 0
            seconds += chunk.seconds
            if seconds >= 5.0:
                break
        assert source.state == "live" and source.gaps == 0


def test_a_stalled_hls_stream_is_noticed_and_reconnected(
    music_clips: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The HLS encoder freezes: the playlist stops gaining segments while the server still
    answers. FFmpeg's read timeout (PyAV's ``timeout``) ends the read; the source
    reconnects once segments come again and counts the gap."""
    with (
        _hls_stream(music_clips[0], tmp_path) as (encoder, url),
        caplog.at_level(logging.WARNING, logger="genrescope.stream.sources.netsource"),
    ):

        def on_state(source: NetworkSource) -> None:
            # FFmpeg rejoins a live playlist three segments from its end, replaying audio already
            # delivered: the encoder stays frozen a while longer, so that a gap remains after it
            if source.state == "reconnecting":
                threading.Timer(OUTAGE_SECONDS, encoder.send_signal, [signal.SIGCONT]).start()

        source = NetworkSource(url, on_state=on_state, stall_seconds=STALL_SECONDS)
        watchdog = threading.Timer(PATIENCE_SECONDS, encoder.send_signal, [signal.SIGCONT])  # a miss fails, not hangs
        seconds_before, seconds_after, dropped_after, frozen = 0.0, 0.0, 0, False
        for chunk in source:
            if not source.gaps:
                seconds_before += chunk.seconds
                if not frozen and seconds_before >= 2.0:
                    encoder.send_signal(signal.SIGSTOP)  # frozen until the source gives up on it
                    watchdog.start()
                    frozen = True
                if seconds_before >= PATIENCE_SECONDS:
                    break  # the stall went unnoticed
            else:
                seconds_after += chunk.seconds
                dropped_after += chunk.dropped_frames
                if seconds_after >= 3.0:
                    break
        source.close()
        watchdog.cancel()
    assert any(STALLED in record.getMessage() for record in caplog.records), caplog.text
    assert source.gaps >= 1 and source.gap_seconds > 0 and dropped_after > 0 and source.state == "live"


@contextmanager
def _hls_stream(clip: Path, folder: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``ffmpeg -re`` writing a live playlist of 1 s AAC segments into ``folder``, served
    over HTTP: the encoder and the playlist's URL."""
    encoder = subprocess.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            str(clip),
            "-c:a",
            "aac",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "4",
            "-hls_flags",
            "delete_segments",
            str(folder / "live.m3u8"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    handler = functools.partial(_QuietHandler, directory=str(folder))
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        _wait_for_file(folder / "live.m3u8")
        yield encoder, f"http://127.0.0.1:{web.server_address[1]}/live.m3u8"
    finally:
        web.shutdown()
        encoder.send_signal(signal.SIGCONT)
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
