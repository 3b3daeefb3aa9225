"""The websocket protocol, every message of v1 and v2, described once: JSON Schema.

events.py and streams_protocol.py build the messages; this is what they must build, and
what the README's protocol sections describe. The tests validate every message a real
client receives from either server against ``schema_for(message)`` (no property beyond
those described is allowed, so a field added without describing it fails). v2 is v1's
message with an envelope — ``"v": 2`` and, except where a message spans every stream
(``streams``, and ``/ws``'s own ``history`` and ``lag``), ``"stream"`` — plus the
``status`` and ``streams`` messages and the stream's state on ``hello`` and ``update``.
"""

from __future__ import annotations

from typing import Any

from genrescope.stream.segments.live import RECENT_SEGMENTS

NUMBER, INTEGER, STRING, BOOLEAN = {"type": "number"}, {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
COUNT = {"type": "integer", "minimum": 0}
PROBABILITIES = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}}
STATES = ["connecting", "live", "silence", "reconnecting", "ended"]
STREAM_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"}


def _message(kind: str, required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A closed object schema: ``type`` is ``kind``; every property listed, nothing else."""
    properties = {"type": {"const": kind}, **required, **(optional or {})}
    return {"type": "object", "properties": properties, "required": ["type", *required], "additionalProperties": False}


STATS = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "updates",
        "dropped_frames",
        "dropped_samples",
        "compute_ms",
        "compute_ms_p50",
        "compute_ms_p99",
        "provider",
        "updates_per_second",
    ],
    "properties": {
        "updates": COUNT,
        "dropped_frames": COUNT,
        "dropped_samples": COUNT,
        "compute_ms": NUMBER,
        "compute_ms_p50": NUMBER,
        "compute_ms_p99": NUMBER,
        "provider": STRING,
        "updates_per_second": NUMBER,
    },
}
TOTALS = {
    "type": "object",
    "additionalProperties": False,
    "required": [*STATS["required"], "audio_seconds", "wall_seconds", "nonfinite_samples"],
    "properties": {**STATS["properties"], "audio_seconds": NUMBER, "wall_seconds": NUMBER, "nonfinite_samples": COUNT},
}
COVER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["image", "labels", "probabilities", "fusion_weight"],
    "properties": {
        "image": STRING,
        "labels": {"type": "array", "items": STRING},
        "probabilities": PROBABILITIES,
        "fusion_weight": NUMBER,
    },
}


SEGMENT = {
    "type": "object",
    "properties": {
        "start_s": NUMBER,
        "end_s": NUMBER,
        "genre": STRING,
        "mean_probability": {**NUMBER, "minimum": 0, "maximum": 1},
        "unsure": BOOLEAN,
    },
    "required": ["start_s", "end_s", "genre", "mean_probability", "unsure"],
    "additionalProperties": False,
}
# A stream's genre segments (stream/segments/live.py): the last finished ones and the running one.
SEGMENTS = {
    "recent": {"type": "array", "items": SEGMENT, "maxItems": RECENT_SEGMENTS},
    "open": {"oneOf": [SEGMENT, {"type": "null"}]},
}


def _v1(version: int) -> dict[str, dict[str, Any]]:
    """The v1 messages, under ``"v": version``."""
    v = {"v": {"const": version}}
    update = _message(
        "update",
        {
            **v,
            "time": NUMBER,
            "column": COUNT,
            "probabilities": PROBABILITIES,
            "raw": PROBABILITIES,
            "top": STRING,
            "uncertain": BOOLEAN,
            "context_seconds": NUMBER,
            "mel": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
            "stats": STATS,
        },
        {
            "fused": PROBABILITIES,
            "chroma": {"type": "array", "items": NUMBER, "minItems": 12, "maxItems": 12},
            "key": {"type": ["string", "null"]},  # null while nothing sounds (README: Pitch and key)
            "key_confidence": NUMBER,
        },
    )
    return {
        "hello": _message(
            "hello",
            {
                **v,
                "source": STRING,
                "labels": {"type": "array", "items": STRING},
                "model_version": STRING,
                "frontend": {"type": "object"},
                "provider": STRING,
            },
            {"cover": COVER},
        ),
        "update": update,
        "history": _message("history", {**v, "updates": {"type": "array", "items": update}}),
        "lag": _message("lag", {**v, "dropped": COUNT}),
        "end": _message("end", {**v, "summary": STRING, "totals": TOTALS, "error": {"type": ["string", "null"]}}),
        "segments": _message("segments", {**v, **SEGMENTS}),
    }


def _v2() -> dict[str, dict[str, Any]]:
    """v1's messages in the v2 envelope, with the stream's state; status and streams."""
    v1 = _v1(2)
    state = {"state": {"enum": STATES}, "gaps": COUNT}
    title = {"title": STRING}

    def extended(kind: str, required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
        """v1's ``kind`` with more required and optional properties."""
        base = {k: p for k, p in v1[kind]["properties"].items() if k != "type"}
        needed = v1[kind]["required"]
        return _message(
            kind,
            {**{k: p for k, p in base.items() if k in needed}, **required},
            {**{k: p for k, p in base.items() if k not in needed}, **(optional or {})},
        )

    stream = {"stream": STREAM_NAME}
    hello = extended("hello", {**stream, **state}, title)
    update = extended("update", {**stream, **state}, title)
    return {
        "hello": hello,
        "update": update,
        "history": extended("history", {"updates": {"type": "array", "items": update}}, stream),
        "lag": extended("lag", {}, stream),
        "end": extended("end", stream),
        "segments": extended("segments", stream),
        "status": _message("status", {"v": {"const": 2}, **stream, **state}, title),
        "streams": _message("streams", {"v": {"const": 2}, "streams": {"type": "array", "items": hello}}),
    }


SCHEMAS: dict[int, dict[str, dict[str, Any]]] = {1: _v1(1), 2: _v2()}


def schema_for(message: dict[str, Any]) -> dict[str, Any]:
    """The schema ``message`` must satisfy, by its version and type (KeyError: no such message)."""
    return SCHEMAS[message["v"]][message["type"]]
