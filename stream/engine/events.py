"""What the engine emits, and its versioned JSON form (the websocket/JSONL protocol).

Every consumer — terminal view, JSONL writer, websocket server, tests — reads these two
message kinds, so their shape lives in one place:

* ``hello``: once per stream; labels, model version, frontend spec, source name.
* ``update``: once per model column (≈4.3 per second); smoothed probabilities, top
  genre, the newest mel column as uint8 (for the dashboard's spectrogram strip), the
  newest column's chroma and the key of the context (model/frontend/pitch.py), stats.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from genrescope.model.frontend.pitch import KeyEstimate

PROTOCOL_VERSION = 1


def ranked(probabilities: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """(genre, probability) pairs, most probable first."""
    return sorted(probabilities, key=lambda pair: -pair[1])


@dataclass(frozen=True)
class StreamStats:
    """Running counters a user watches to trust the stream; at its end, its summary.

    Each update carries them (percentiles over the recent updates); ``engine.summary()``
    gives the same record for the whole stream. Losses are counted in frames (one sample
    per channel) at the source's own rate: a frame lost in capture is one instant of
    audio, whatever the channel count.
    """

    updates: int = 0
    dropped_frames: int = 0
    compute_ms: float = 0.0  # frontend + model for the latest update
    compute_ms_p50: float = 0.0
    compute_ms_p99: float = 0.0
    provider: str = ""  # onnxruntime execution provider actually in use
    updates_per_second: float = 0.0  # measured over the recent updates, in stream time
    audio_seconds: float = 0.0  # received so far, at the model's rate
    wall_seconds: float = 0.0  # since the stream started
    nonfinite_samples: int = 0  # NaN/inf samples replaced by silence

    def text(self) -> str:
        """The summary a user reads when a stream ends."""
        speed = self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else float("inf")
        lines = [
            f"audio {self.audio_seconds:.1f} s in {self.wall_seconds:.1f} s ({speed:.1f}× real time), "
            f"{self.updates} updates",
            f"compute per update: p50 {self.compute_ms_p50:.2f} ms, p99 {self.compute_ms_p99:.2f} ms "
            f"on {self.provider}",
            f"dropped frames: {self.dropped_frames}",
        ]
        if self.nonfinite_samples:
            lines.append(f"NaN/inf samples replaced by silence: {self.nonfinite_samples}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The ``end`` message's totals (with the protocol's legacy loss field)."""
        return {**asdict(self), **_legacy_dropped(self)}


def _legacy_dropped(stats: StreamStats) -> dict[str, int]:
    """Protocol v1 first named the loss count ``dropped_samples``; it is still sent, with
    the same value as ``dropped_frames``, for clients written against it."""
    return {"dropped_samples": stats.dropped_frames}


@dataclass(frozen=True)
class GenreUpdate:
    """One engine step: the probabilities after column ``column``."""

    time: float  # seconds of stream time at the newest column's centre
    column: int
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]  # smoothed, same order as labels
    raw_probabilities: tuple[float, ...]  # this window alone, before smoothing
    context_seconds: float  # how much audio the model saw for this update
    mel_column: tuple[int, ...]  # newest column, 0..255 over [floor_db, 0] dB, low mel first
    stats: StreamStats = field(default_factory=StreamStats)
    fused: dict[str, float] | None = None  # audio fused with the file's cover, when it has one
    chroma: tuple[float, ...] = ()  # newest column's pitch-class amplitudes, C first, max 1
    key: KeyEstimate | None = None  # the context's key; None when the engine runs without pitch
    uncertain: bool = False  # the top probability is below EngineConfig.unsure_below: no confident genre

    @property
    def top(self) -> str:
        return self.labels[max(range(len(self.labels)), key=self.probabilities.__getitem__)]

    def ranked(self) -> list[tuple[str, float]]:
        """(genre, probability), most probable first."""
        return ranked(zip(self.labels, self.probabilities, strict=True))

    def to_message(self) -> dict[str, Any]:
        """The ``update`` message (JSON-ready)."""
        message = {
            "type": "update",
            "v": PROTOCOL_VERSION,
            "time": round(self.time, 3),
            "column": self.column,
            "probabilities": {k: round(p, 5) for k, p in zip(self.labels, self.probabilities, strict=True)},
            "raw": {k: round(p, 5) for k, p in zip(self.labels, self.raw_probabilities, strict=True)},
            "top": self.top,
            "uncertain": self.uncertain,
            "context_seconds": round(self.context_seconds, 3),
            "mel": list(self.mel_column),
            "stats": {
                "updates": self.stats.updates,
                "dropped_frames": self.stats.dropped_frames,
                **_legacy_dropped(self.stats),
                "compute_ms": round(self.stats.compute_ms, 3),
                "compute_ms_p50": round(self.stats.compute_ms_p50, 3),
                "compute_ms_p99": round(self.stats.compute_ms_p99, 3),
                "provider": self.stats.provider,
                "updates_per_second": round(self.stats.updates_per_second, 2),
            },
        }
        if self.fused is not None:
            message["fused"] = {k: round(p, 5) for k, p in self.fused.items()}
        if self.key is not None:
            message.update(
                chroma=[round(c, 3) for c in self.chroma],
                key=self.key.name,
                key_confidence=round(self.key.confidence, 3),
            )
        return message


def hello_message(
    source: str,
    labels: tuple[str, ...],
    model_version: str,
    frontend_spec_json: str,
    provider: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``hello`` message a client gets first. ``extra`` carries optional parts
    such as the cover-art probabilities of a file."""
    message = {
        "type": "hello",
        "v": PROTOCOL_VERSION,
        "source": source,
        "labels": list(labels),
        "model_version": model_version,
        "frontend": json.loads(frontend_spec_json),
        "provider": provider,
    }
    message.update(extra or {})
    return message


def end_message(summary: str, totals: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    """The ``end`` message: the source ran out (or failed) and no update will follow.

    ``summary`` is the run summary's text and ``totals`` its numbers, so a client can
    show what the whole stream amounted to; ``error`` is set only when the engine
    stopped on an exception."""
    return {"type": "end", "v": PROTOCOL_VERSION, "summary": summary, "totals": totals, "error": error}


def lag_message(dropped: int, envelope: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``lag`` message: this client read too slowly and ``dropped`` messages (in
    total since it connected) were skipped for it, so gaps in ``column`` are explained.
    ``envelope`` is the conversation's version (and, in v2, stream): see ``v1_envelope``."""
    return {"type": "lag", **(envelope or v1_envelope()), "dropped": dropped}


def v1_envelope() -> dict[str, Any]:
    """What every message of a conversation carries besides its type: ``{"v": 1}`` here,
    ``{"v": 2, "stream": NAME}`` on a named stream (streams_protocol.envelope)."""
    return {"v": PROTOCOL_VERSION}


def history_text(updates: Iterable[str], envelope: dict[str, Any] | None = None) -> str:
    """The ``history`` message, as JSON text: the recent ``update`` messages (already
    serialised, oldest first) for a client that joins mid-stream, so its timeline is
    complete at once. Assembled from the texts, not re-encoded, because the server sends
    one to every client that connects."""
    head = json.dumps({"type": "history", **(envelope or v1_envelope())}, separators=(",", ":"))[:-1]
    return f'{head},"updates":[{",".join(updates)}]}}'
