"""A radio stream through the real ``genrescope serve``, from a station that misbehaves
(tests/radio_server.py) and wants a password: the stream is reached with HTTP basic
authentication, comes back after a chunk cut mid-way and an error status, and its
credentials — user-info and secret query values — reach no client, no metrics scrape,
no page and no log line."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from radio_server import Play, radio_station
from websockets.asyncio.client import connect

from harness import PATIENCE_SECONDS, genrescope

USER, PASSWORD, KEY = "listener", "hunter2-secret", "key-0123456789"
SECRETS = (PASSWORD, KEY, f"{USER}:")


def _secret_url(station) -> str:
    return station.url(userinfo=f"{USER}:{PASSWORD}", query=f"?listen_key={KEY}&format=mp3")


def _redacted_url(station) -> str:
    return station.url(userinfo="***", query="?listen_key=***&format=mp3")


async def _texts_until(url: str, done) -> list[str]:
    """Every message's text from ``url`` up to the first (parsed) one ``done`` accepts."""
    texts: list[str] = []
    async with asyncio.timeout(2 * PATIENCE_SECONDS), connect(url, max_size=None) as client:
        while True:
            texts.append(await client.recv())
            message = json.loads(texts[-1])
            for item in message["updates"] if message["type"] == "history" else [message]:
                if done(item):
                    return texts


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=PATIENCE_SECONDS) as response:
        return response.read().decode()


def test_a_named_radio_with_credentials_reconnects_and_never_shows_them(
    station_audio: tuple[Path, list[bytes]], test_model_path: Path, tmp_path: Path
) -> None:
    """Nor does the airplay log (--log) keep them, in its database or its write-ahead log."""
    script = [Play(3.0, "cut"), Play(status=500), Play()]
    log = tmp_path / "airplay.sqlite"
    with radio_station(station_audio[0], script, credentials=(USER, PASSWORD)) as station:
        with genrescope(
            "-v",
            "serve",
            "--source",
            f"radio={_secret_url(station)}",
            "--stall-seconds",
            "2",
            "--log",
            str(log),
            "--model",
            str(test_model_path),
        ) as server:
            texts = asyncio.run(_texts_until(server.ws_url, lambda m: m["type"] == "update" and m["gaps"] >= 1))
            texts += asyncio.run(_texts_until(server.ws_url + "?stream=radio", lambda m: m["type"] == "update"))
            shown = [_get(f"http://127.0.0.1:{server.port}{path}") for path in ("/metrics", "/", "/streams.html")]
            server.process.terminate()
            server.process.wait(PATIENCE_SECONDS)
            stderr = server.process.stderr.read()
        assert station.connections >= 3  # the cut chunk and the error status were both retried
    messages = [json.loads(text) for text in texts]
    assert messages[0]["type"] == "streams" and messages[0]["streams"][0]["source"] == _redacted_url(station)
    assert not any(message["type"] == "end" for message in messages)
    states = [message["state"] for message in messages if message["type"] == "status"]
    assert "reconnecting" in states and states[-1] == "live"
    assert "reconnecting" in stderr and "***" in stderr  # the warnings name the stream, redacted
    for text in [*texts, *shown, stderr]:
        assert not any(secret in text for secret in SECRETS), text[:2000]
    logged = [path.read_bytes() for path in tmp_path.glob("airplay.sqlite*")]
    assert logged and b"radio" in logged[0]  # the log was written, under the stream's name
    assert not any(secret.encode() in data for data in logged for secret in SECRETS)


def test_a_single_radio_source_is_served_as_v1(station_audio: tuple[Path, list[bytes]], test_model_path: Path) -> None:
    """``serve --source URL`` (one unnamed stream) once took the URL for a file name."""
    with (
        radio_station(station_audio[0], credentials=(USER, PASSWORD)) as station,
        genrescope("serve", "--source", _secret_url(station), "--model", str(test_model_path)) as server,
    ):
        texts = asyncio.run(_texts_until(server.ws_url, lambda m: m["type"] == "update"))
    hello = json.loads(texts[0])
    assert (hello["type"], hello["v"], hello["source"]) == ("hello", 1, _redacted_url(station))
    assert not any(secret in text for text in texts for secret in SECRETS)
