"""Every long-lived structure of the servers and the engine keeps constant memory however
many updates go through it: each real object is driven with enough updates to fill its
fixed windows, then with several times as many, and no list, dict, set, deque or array
it holds (followed through genrescope's own objects) may be larger after the second.
The engine's windows are made small (16 updates) so that they fill within the few
seconds of audio a loaded test machine can afford; the model's 30 s context fills in 30 s."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace

import numpy as np
import pytest

from genrescope.model.session import GenreModel
from genrescope.stream.engine import engine as engine_module
from genrescope.stream.engine.backlog import MAX_BACKLOG_SECONDS
from genrescope.stream.engine.compute_times import ComputeTimes
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.engine.multi import BatchScheduler, StreamUpdate
from genrescope.stream.engine.timeline import Timeline
from genrescope.stream.segments.airplay import AirplayRecorder
from genrescope.stream.segments.airplay_log import AirplayLog
from genrescope.stream.segments.live import SegmentFeed
from genrescope.stream.serve.hub import Hub
from genrescope.stream.serve.metrics import StreamMetrics
from genrescope.stream.sources.demo import DemoSource

PATIENCE_SECONDS = 600.0  # guards against a hang on a loaded machine, never a measurement
FILLED_SECONDS = 35.0  # of audio: past the model's 30 s context, so every fixed buffer is full
LONGER = 3  # the second run: this many times the audio
CONTAINERS = (list, dict, set, frozenset, deque)  # text is a value: a longer number is not growth


def retained(root: object) -> dict[str, int]:
    """The size of every container reachable from ``root`` through genrescope's objects
    (and containers), by path: lengths, and bytes for numpy arrays."""
    sizes: dict[str, int] = {}
    seen: set[int] = set()

    def visit(value: object, path: str) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            sizes[path] = value.nbytes
        elif isinstance(value, CONTAINERS):
            sizes[path] = len(value)
            if isinstance(value, dict):
                for key, item in value.items():
                    visit(item, f"{path}[{key!r}]")
            else:
                for index, item in enumerate(value):
                    visit(item, f"{path}[{index}]")
        elif type(value).__module__.startswith("genrescope") and hasattr(value, "__dict__"):
            for name, item in vars(value).items():
                visit(item, f"{path}.{name}")

    visit(root, "root")
    return sizes


def assert_no_growth(few: dict[str, int], many: dict[str, int]) -> None:
    grown = {path: (few.get(path, 0), size) for path, size in many.items() if size > few.get(path, 0)}
    assert not grown, f"{len(grown)} grew with the number of updates (few → many): {dict(list(grown.items())[:8])}"


@pytest.fixture(scope="module")
def model(test_model_path) -> GenreModel:
    return GenreModel.load(test_model_path, threads=1, prefer_gpu=False)


@pytest.fixture
def small_windows(monkeypatch):
    monkeypatch.setattr(engine_module, "PERCENTILE_WINDOW", 16)
    monkeypatch.setattr(engine_module, "RATE_WINDOW", 16)


def _scheduled(model: GenreModel, seconds: float) -> BatchScheduler:
    """A real scheduler run to the end over a demo stream of ``seconds``."""
    updates = []
    sources = [("a", DemoSource(realtime=False, seconds=seconds))]
    scheduler = BatchScheduler(
        model, sources, [lambda event: updates.append(isinstance(event, StreamUpdate))], EngineConfig()
    )
    scheduler.start()
    assert scheduler.wait(PATIENCE_SECONDS) and sum(updates) > 0
    return scheduler


def test_the_batch_scheduler(model, small_windows):
    few, many = _scheduled(model, FILLED_SECONDS), _scheduled(model, LONGER * FILLED_SECONDS)
    assert many.batch_sizes.contexts > (LONGER - 1) * few.batch_sizes.contexts  # really more contexts
    assert_no_growth(retained(few), retained(many))


class CountedSource:
    """A source that notes how much audio it has handed out so far."""

    def __init__(self, source):
        self.source, self.seconds = source, 0.0

    def __iter__(self):
        for chunk in self.source:
            self.seconds += chunk.seconds
            yield chunk


def test_the_inbox_when_the_machine_cannot_keep_up(model):
    """A source far faster than the scheduler (the demo, unpaced, behind a sink that takes
    20 ms per update) may run at most the backlog ahead of the updates: before the bound
    its whole two minutes waited in the inbox within the first updates. Nothing is lost:
    the last update still covers the source's last column."""
    source = CountedSource(DemoSource(realtime=False, seconds=120.0))
    leads, times = [], []

    def slow_sink(event) -> None:
        if isinstance(event, StreamUpdate):
            leads.append(source.seconds - event.update.time)
            times.append(event.update.time)
            time.sleep(0.02)

    scheduler = BatchScheduler(model, [("fast", source)], [slow_sink], EngineConfig())
    scheduler.start()
    assert scheduler.wait(PATIENCE_SECONDS)
    # the backlog, plus the block that found it under the bound and the engine's part column
    assert max(leads) <= MAX_BACKLOG_SECONDS + 0.5, f"the source ran {max(leads):.1f} s ahead of the updates"
    assert times[-1] >= source.seconds - 2 * model.card.frontend.column_seconds
    assert len(times) == len(set(times)) and times == sorted(times)


def test_the_streaming_engine(model, small_windows):
    def engine_after(seconds: float) -> GenreEngine:
        engine = GenreEngine(model, EngineConfig())
        assert list(engine.run(DemoSource(realtime=False, seconds=seconds)))
        return engine

    assert_no_growth(retained(engine_after(FILLED_SECONDS)), retained(engine_after(LONGER * FILLED_SECONDS)))


def _update(labels: tuple[str, ...], column: int) -> GenreUpdate:
    probabilities = tuple(np.random.default_rng(column).dirichlet(np.ones(len(labels))))
    return GenreUpdate(
        time=column * 0.234,
        column=column,
        labels=labels,
        probabilities=probabilities,
        raw_probabilities=probabilities,
        context_seconds=30.0,
        mel_column=(0,) * 8,
    )


def test_the_hub_and_its_subscribers():
    def hub_after(count: int) -> Hub:
        hub = Hub('{"type": "hello"}', capacity=16, history=64)
        staying = [hub.subscribe() for _ in range(3)]  # connected throughout, never reading
        for number in range(count):
            passing = hub.subscribe()  # clients come and go
            hub.publish(f'{{"type": "update", "n": {number}}}')
            hub.unsubscribe(passing)
        assert len(hub) == len(staying)
        return hub

    assert_no_growth(retained(hub_after(100)), retained(hub_after(1000)))


def test_the_compute_times_and_the_timeline():
    labels = ("Rock", "Pop", "Folk")
    for count in (1_000, 10_000):
        times, timeline = ComputeTimes(window=256), Timeline(max_points=512)
        for column in range(count):
            times.add(float(column % 97))
            timeline.add(_update(labels, column))
        if count == 1_000:
            few = retained(times) | retained(timeline)
    assert_no_growth(few, retained(times) | retained(timeline))


def test_the_metrics_of_many_updates():
    labels = ("Rock", "Pop", "Folk")

    def exposition(count: int) -> int:
        metrics = StreamMetrics()
        metrics.add_streams(["a", "b"])
        for column in range(count):
            metrics.sink(StreamUpdate("a" if column % 2 else "b", _update(labels, column), "live", None, 0, 1.0))
        return len(metrics.text().splitlines())

    assert exposition(100) == exposition(5_000)  # one series per stream and genre, however long it runs


def test_the_airplay_recorder_and_its_segment_feed(tmp_path):
    """The live segmenter decides within its fixed lag (240 s of updates) and the feed
    keeps the last 20 segments: past that, more updates hold nothing more. Each genre holds
    for 40 updates at a time, so segments finish all along."""
    labels = ("Rock", "Pop", "Folk")
    update_seconds = 0.234

    def recorder_after(count: int) -> AirplayRecorder:
        stream_time = [0.0]
        recorder = AirplayRecorder(
            AirplayLog(tmp_path / f"log-{count}.sqlite"), labels, update_seconds, clock=lambda: 1e9 + stream_time[0]
        )
        recorder.listeners.append(SegmentFeed(lambda stream, message: None, version=2, tag_stream=True))
        for column in range(count):
            probabilities = np.full(len(labels), 0.1)
            probabilities[(column // 40) % len(labels)] = 0.8
            update = replace(_update(labels, column), raw_probabilities=tuple(probabilities))
            stream_time[0] = update.time
            recorder.update("radio", update)
        return recorder

    few, many = recorder_after(2_000), recorder_after(6_000)  # 240 s of lag is 1,026 updates
    assert_no_growth(retained(few), retained(many))
