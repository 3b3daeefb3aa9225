"""``genrescope serve`` with many named streams, as a real process: every stream gets
every update in order, /metrics parses and says the same, OSC reaches a real OSC server,
bad source options fail in one line."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from websockets.asyncio.client import connect

from genrescope.model.session import GenreModel
from genrescope.stream.engine.engine import EngineConfig
from genrescope.stream.engine.multi import BatchScheduler
from genrescope.stream.serve.multiserver import MultiStreamServer
from genrescope.stream.serve.osc import OscOutput
from genrescope.stream.sources.filesource import FileSource, LoopedFile
from harness import PATIENCE_SECONDS, TEST_CONFIG, genrescope, receive, wait_for
from support import run_cli

STREAMS = 16
UPDATES_EACH = 12  # ≈3 s of updates per stream after its first


def _streams_options(music_file: Path, count: int) -> list[str]:
    return [option for i in range(count) for option in ("--source", f"s{i:02d}=loop:{music_file}")]


def test_sixteen_streams_each_get_every_update_in_order(test_model_path: Path, music_file: Path) -> None:
    async def scenario(url: str) -> dict[str, list[dict]]:
        seen: dict[str, list[dict]] = defaultdict(list)
        async with connect(url, max_size=None) as client:
            streams = await receive(client)
            assert streams["type"] == "streams" and streams["v"] == 2
            assert [hello["stream"] for hello in streams["streams"]] == [f"s{i:02d}" for i in range(STREAMS)]
            while min((len(seen[f"s{i:02d}"]) for i in range(STREAMS)), default=0) < UPDATES_EACH:
                message = await receive(client)
                assert message["type"] != "lag", "the overview client was dropped messages"
                for update in message["updates"] if message["type"] == "history" else [message]:
                    if update["type"] == "update":
                        seen[update["stream"]].append(update)
        return seen

    with genrescope("serve", *_streams_options(music_file, STREAMS), "--model", str(test_model_path)) as server:
        seen = asyncio.run(scenario(server.ws_url))
        metrics = _scrape(f"http://127.0.0.1:{server.port}/metrics")
    for name, updates in seen.items():
        columns = [update["column"] for update in updates]
        assert columns == list(range(columns[0], columns[0] + len(columns))), f"{name}: {columns}"
        assert all(update["state"] == "live" and update["gaps"] == 0 for update in updates)
    labels = seen["s00"][0]["probabilities"].keys()
    for i in range(STREAMS):
        name = f"s{i:02d}"
        assert metrics["genrescope_source_up"][(("stream", name),)] == 1
        assert metrics["genrescope_updates_total"][(("stream", name),)] >= len(seen[name])
        genres = {dict(key)["genre"] for key in metrics["genrescope_genre_probability"] if dict(key)["stream"] == name}
        assert genres == set(labels)
        assert metrics["genrescope_compute_seconds_count"][(("stream", name),)] >= len(seen[name])


def _scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, dict]:
    """Every sample of a /metrics page, parsed by prometheus-client's own parser."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=PATIENCE_SECONDS) as page:
        text = page.read().decode()
    samples: dict[str, dict] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_need_the_token_when_one_is_set(genre_model: GenreModel, music_file: Path) -> None:
    async def scenario() -> None:
        scheduler = BatchScheduler(genre_model, [("radio", LoopedFile(str(music_file)))], [], EngineConfig())
        server = MultiStreamServer(
            scheduler, lambda name: scheduler.streams[0].engine.hello(name), replace(TEST_CONFIG, token="sesame")
        )
        async with server:
            url = f"http://127.0.0.1:{server.port}/metrics"
            with pytest.raises(urllib.error.HTTPError, match="403"):
                await asyncio.to_thread(_scrape, url)
            # the metrics hear an update after the engine made it: wait for theirs
            await wait_for(
                lambda: server.metrics.registry.get_sample_value("genrescope_updates_total", {"stream": "radio"})
            )
            metrics = await asyncio.to_thread(_scrape, url, {"Authorization": "Bearer sesame"})
            assert metrics["genrescope_updates_total"][(("stream", "radio"),)] >= 1
            by_query = await asyncio.to_thread(_scrape, url + "?token=sesame")
            assert by_query["genrescope_source_up"][(("stream", "radio"),)] == 1

    asyncio.run(scenario())


def test_osc_reaches_a_real_osc_server(genre_model: GenreModel, music_file: Path) -> None:
    received: list[tuple[str, list]] = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *values: received.append((address, list(values))))
    osc_server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)  # one thread: messages stay in order
    threading.Thread(target=osc_server.serve_forever, daemon=True).start()
    try:
        output = OscOutput("127.0.0.1", osc_server.server_address[1], hold_seconds=2.0)
        scheduler = BatchScheduler(
            genre_model, [("club", FileSource(music_file, realtime=True))], [output.sink], EngineConfig()
        )
        scheduler.start()
        asyncio.run(wait_for(lambda: any(address.endswith("/top") for address, _ in list(received))))
        scheduler.stop()
    finally:
        osc_server.shutdown()
    messages = list(received)
    labels = genre_model.labels
    genre_messages = [(a, v) for a, v in messages if a.startswith("/genrescope/club/genre/")]
    assert {address.rsplit("/", 1)[1] for address, _ in genre_messages} == set(labels)
    assert all(len(values) == 1 and 0.0 <= values[0] <= 1.0 for _, values in genre_messages)
    assert ("/genrescope/club/state", ["live"]) in messages
    tops = [values for address, values in messages if address == "/genrescope/club/top"]
    assert tops[0][0] in labels and 0.0 < tops[0][1] <= 1.0
    # The top genre was announced only after it held for 2 s: ≥ 2 s / 0.234 s of updates came first.
    first_top = next(i for i, (address, _) in enumerate(messages) if address.endswith("/top"))
    assert sum(address == f"/genrescope/club/genre/{labels[0]}" for address, _ in messages[:first_top]) >= 8


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("--source", "a=demo", "--source", "a=demo"), "two streams are named 'a'"),
        (("--source", "a=demo", "--source", "b=/no/such.wav"), "no such file"),
        (("--source", "a=demo", "--osc", "nowhere"), "expected HOST:PORT"),
        (("--sources", "/no/such.toml"), "cannot read /no/such.toml"),
    ],
)
def test_bad_named_sources_fail_in_one_line(arguments: tuple[str, ...], message: str) -> None:
    result = run_cli("serve", *arguments, "--port", "0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("genrescope: error: ")
    assert message in result.stderr
