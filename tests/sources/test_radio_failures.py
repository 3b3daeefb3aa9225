"""Every way a radio connection fails, against a real station that fails on purpose
(tests/radio_server.py): the network source reconnects with backoff and goes on, and
its accounting stays honest — the audio it delivered plus the gaps it counted never
exceed the wall time (within one block's slack either way of a block boundary), and
every break is counted, at least as long as the backoff the source waited."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from radio_server import DOWN_SECONDS, Play, radio_station, self_signed_certificate

from genrescope.stream.sources.audio_file import BLOCK_SECONDS
from genrescope.stream.sources.netsource import BACKOFF_SECONDS, NetworkSource

STALL_SECONDS = 2.0
# A block is delivered once decoded, up to one block after its first byte came, and the
# station sends in steps of its own: two blocks of slack, from the block size, not timing.
TOLERANCE_SECONDS = 2 * BLOCK_SECONDS
AFTER_SECONDS = 1.0  # audio read after the last break's gap was counted
PATIENCE_SECONDS = 90.0  # guards against a hang, never a measurement


@dataclass
class Heard:
    audio_seconds: float
    dropped_seconds: float
    wall_seconds: float


def listen(source: NetworkSource, breaks: int, done: threading.Event | None = None) -> Heard:
    """Read ``source`` until it counted ``breaks`` gaps (and ``done`` is set), then
    ``AFTER_SECONDS`` more of audio."""
    started = time.monotonic()
    audio = dropped = after = 0.0
    for chunk in source:
        audio += chunk.seconds
        dropped += chunk.dropped_frames / chunk.sample_rate
        if source.gaps >= breaks and (done is None or done.is_set()):
            after += chunk.seconds
            if after >= AFTER_SECONDS:
                break
        assert time.monotonic() - started < PATIENCE_SECONDS, f"no recovery: {source.gaps} gaps, state {source.state}"
    source.close()
    return Heard(audio, dropped, time.monotonic() - started)


def assert_honest(source: NetworkSource, heard: Heard, breaks: int, outage_at_least: float) -> None:
    assert source.gaps == breaks and source.state == "live"
    assert heard.audio_seconds + source.gap_seconds <= heard.wall_seconds + TOLERANCE_SECONDS, heard
    assert source.gap_seconds >= outage_at_least - TOLERANCE_SECONDS, (source.gap_seconds, heard)
    assert heard.dropped_seconds == pytest.approx(source.gap_seconds, abs=breaks * 1e-3)  # the gaps reach the engine


@pytest.mark.parametrize("then", ["cut", "reset", "stall", "end"])
def test_a_broken_connection_is_reconnected_and_its_gap_counted(station_audio, then: str) -> None:
    """A chunk cut mid-way (http.client's IncompleteRead), a TCP reset, a stall (the
    connection open, no byte coming) and a clean end of the response."""
    mp3, _ = station_audio
    with radio_station(mp3, [Play(2.0, then), Play(2.0, then), Play()]) as station:
        source = NetworkSource(station.url(), stall_seconds=STALL_SECONDS)
        heard = listen(source, breaks=2)
        assert station.connections == 3
    outage = STALL_SECONDS if then == "stall" else BACKOFF_SECONDS
    assert_honest(source, heard, breaks=2, outage_at_least=2 * outage)


def test_error_statuses_are_retried_with_growing_backoff(station_audio) -> None:
    mp3, _ = station_audio
    with radio_station(mp3, [Play(2.0), Play(status=500), Play(status=404), Play(status=503), Play()]) as station:
        source = NetworkSource(station.url(), stall_seconds=STALL_SECONDS)
        heard = listen(source, breaks=1)
        assert station.connections == 5
    assert_honest(source, heard, breaks=1, outage_at_least=BACKOFF_SECONDS * (1 + 2 + 4 + 8))


def test_a_refused_connection_is_retried_until_the_station_is_back(station_audio) -> None:
    """The station's server goes away (connections refused), and comes back on its port."""
    mp3, _ = station_audio
    with radio_station(mp3, [Play(2.0, "down"), Play()]) as station:
        source = NetworkSource(station.url(), stall_seconds=STALL_SECONDS)
        heard = listen(source, breaks=1)
        assert station.connections == 2
    assert_honest(source, heard, breaks=1, outage_at_least=DOWN_SECONDS)


def test_a_bad_tls_handshake_is_retried(station_audio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mp3, _ = station_audio
    certificate = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the client trusts the station's own certificate
    with radio_station(
        mp3, [Play(2.0), Play(then="bad-tls"), Play(then="bad-tls"), Play()], certificate=certificate
    ) as station:
        source = NetworkSource(station.url(), stall_seconds=STALL_SECONDS)
        heard = listen(source, breaks=1)
        assert station.connections == 4
    assert_honest(source, heard, breaks=1, outage_at_least=BACKOFF_SECONDS * (1 + 2))


def test_hls_playlist_errors_are_retried(station_audio) -> None:
    """The playlist is garbage, then an error status, then plays; later its reloads fail
    (FFmpeg gives the stream up) until it answers again."""
    mp3, segments = station_audio
    answers = ["garbage", 500, 404, *[200] * 4, *[500] * 6]
    with radio_station(mp3, hls_script=answers, segments=segments) as station:
        source = NetworkSource(station.url("live.m3u8"), stall_seconds=STALL_SECONDS)
        drained = threading.Event()
        threading.Thread(target=_set_when, args=(lambda: not station.hls_script, drained), daemon=True).start()
        heard = listen(source, breaks=1, done=drained)
    assert_honest(source, heard, breaks=1, outage_at_least=BACKOFF_SECONDS)


def _set_when(condition, event: threading.Event) -> None:
    while not condition():
        time.sleep(0.05)
    event.set()
