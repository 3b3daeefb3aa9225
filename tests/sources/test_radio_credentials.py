"""Credentials in a radio URL: sent as HTTP basic authentication (ICY through urllib, HLS
through FFmpeg's own client) to a real station that requires them, and never shown:
the source's name, its log lines and the errors it logs are redacted (redaction.py)."""

from __future__ import annotations

import logging

import pytest
from radio_server import Play, radio_station
from test_radio_failures import STALL_SECONDS, listen

from genrescope.stream.sources.netsource import NetworkSource
from genrescope.stream.sources.redaction import redact

USER, PASSWORD, KEY = "listener", "hunter2-secret", "key-0123456789"


@pytest.mark.parametrize(
    "text, shown",
    [
        (
            "http://u:p@h:8000/live.mp3?listen_key=k&bitrate=128",
            "http://***@h:8000/live.mp3?listen_key=***&bitrate=128",
        ),
        ("https://h/x.m3u8?token=t#top", "https://h/x.m3u8?token=***#top"),
        ("error: 'http://u:p@w@h/a' failed", "error: 'http://***@h/a' failed"),  # a password with an @ in it
        ("https://h/a?api_key=k&sig=s&session=1&x=", "https://h/a?api_key=***&sig=***&session=***&x="),
        ("mic:pulse, song.mp3, http://h/live", "mic:pulse, song.mp3, http://h/live"),
    ],
)
def test_redaction_hides_user_info_and_secret_query_values(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize("path, breaks", [("live.mp3", 1), ("live.m3u8", 0)])
def test_a_station_that_wants_a_password_is_reached_and_the_password_never_shown(
    station_audio, caplog: pytest.LogCaptureFixture, path: str, breaks: int
) -> None:
    mp3, segments = station_audio
    with (
        radio_station(
            mp3, [Play(1.5, "cut"), Play()], hls_script=[500, 200], segments=segments, credentials=(USER, PASSWORD)
        ) as station,
        caplog.at_level(logging.INFO),
    ):
        source = NetworkSource(
            station.url(path, f"{USER}:{PASSWORD}", f"?listen_key={KEY}"), stall_seconds=STALL_SECONDS
        )
        heard = listen(source, breaks=breaks)
    assert heard.audio_seconds > 0 and source.name == station.url(path, "***", "?listen_key=***")
    assert "reconnecting" in caplog.text  # the cut chunk, or the playlist's error status, was logged...
    assert PASSWORD not in caplog.text and KEY not in caplog.text  # ...without the secrets
