"""Prometheus metrics of a multi-stream server, served at ``/metrics``.

Per stream: the smoothed genre probabilities (a gauge per genre), updates and dropped
samples and connection gaps (counters), whether its source delivers (``source_up``),
and the compute time of each model call (a histogram over all streams: the batched call
is shared). One registry per server, so two servers in one process (the tests) do not
mix their numbers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from genrescope.stream.engine.multi import Event, StreamEnd, StreamStatus, StreamUpdate

CONTENT_TYPE = CONTENT_TYPE_LATEST
UP_STATES = frozenset({"live", "silence"})  # the source delivers audio (silence is audio)
COMPUTE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


class StreamMetrics:
    """A sink of the scheduler's events (``metrics.sink``) that keeps the metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["stream"]
        self.probability = Gauge(
            "genrescope_genre_probability",
            "Smoothed probability of each genre",
            ["stream", "genre"],
            registry=self.registry,
        )
        self.updates = Counter("genrescope_updates", "Genre updates produced", labels, registry=self.registry)
        self.dropped = Gauge(
            "genrescope_dropped_frames",
            "Frames lost before the engine (capture overruns, network gaps), total",
            labels,
            registry=self.registry,
        )
        self.gaps = Gauge(
            "genrescope_source_gaps", "Connection breaks of a network source, total", labels, registry=self.registry
        )
        self.up = Gauge("genrescope_source_up", "1 while the source delivers audio", labels, registry=self.registry)
        self.silent = Gauge(
            "genrescope_source_silent", "1 while the stream is below the silence level", labels, registry=self.registry
        )
        self.compute = Histogram(
            "genrescope_compute_seconds",
            "Frontend and model time per update",
            labels,
            buckets=COMPUTE_BUCKETS,
            registry=self.registry,
        )

    def add_streams(self, names: list[str]) -> None:
        """Every stream appears at once (down until its first audio), not at its first update."""
        for name in names:
            self.up.labels(name).set(0)
            self.updates.labels(name)

    def sink(self, event: Event) -> None:
        if isinstance(event, StreamUpdate):
            update = event.update
            for genre, p in zip(update.labels, update.probabilities, strict=True):
                self.probability.labels(event.stream, genre).set(p)
            self.updates.labels(event.stream).inc()
            self.dropped.labels(event.stream).set(update.stats.dropped_frames)
            self.gaps.labels(event.stream).set(event.gaps)
            self.compute.labels(event.stream).observe(update.stats.compute_ms / 1e3)
        elif isinstance(event, StreamStatus):
            self.up.labels(event.stream).set(event.state in UP_STATES)
            self.silent.labels(event.stream).set(event.state == "silence")
            self.gaps.labels(event.stream).set(event.gaps)
        elif isinstance(event, StreamEnd):
            self.up.labels(event.stream).set(0)

    def text(self) -> bytes:
        return generate_latest(self.registry)
