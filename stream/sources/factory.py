"""The sources a user names: ``open_source(SPEC)`` for one stream, and named sources for a
multi-stream server: ``--source NAME=SPEC`` and ``--sources FILE.toml``.

A SPEC is what ``--source`` takes alone (spec.py: ``demo``, ``mic``/``mic:DEVICE``,
``http(s)://`` radio streams, ``loop:PATH``, a file), parsed by the same function. The
NAME is the stream's id in the protocol, the metrics and the OSC addresses, so it is
kept to letters, digits, ``-``, ``_`` and ``.``. A sources file lists the same::

    [[stream]]
    name = "radio1"
    source = "https://icecast.example/radio1.mp3"

    [[stream]]
    name = "jingles"
    source = "jingles.mp3"   # relative to the sources file
    loop = true
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import tomllib

from genrescope.stream.checks import BOOLEAN, STRING, Kind, ShapeError, check_table
from genrescope.stream.sources.chunk import STALL_SECONDS, AudioChunk
from genrescope.stream.sources.redaction import redact
from genrescope.stream.sources.spec import SYSTEM_DEVICE, SourceSpec, SourceSpecError, parse_source_spec

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
# A sources file: [[stream]] tables and nothing else.
STREAM_KEYS = {"name": STRING, "source": STRING, "loop": BOOLEAN}
STREAM_LIST = Kind("a list of [[stream]] tables", lambda value: isinstance(value, list))
__all__ = [
    "NAME",
    "NamedSource",
    "SourceSpecError",
    "check_unique",
    "held",
    "load_sources_file",
    "open_named",
    "open_source",
    "parse_source_option",
]


def open_source(
    spec: SourceSpec, realtime: bool = False, sample_rate: int | None = None, stall_seconds: float = STALL_SECONDS
) -> Iterable[AudioChunk]:
    """The source ``spec`` names (see spec.py), opened: a bad file or device fails
    here, in one line. ``realtime`` paces a file like a live source (a looped file always
    is); ``sample_rate`` (the engine's model rate) is what a device records at when it can,
    sparing a resampler; ``stall_seconds`` is how long a radio stream may send nothing
    before it reconnects. A microphone is a context manager that releases the device
    (``held`` gives what to enter for any source)."""
    if spec.kind == "demo":
        from genrescope.stream.sources.demo import DemoSource

        return DemoSource(realtime=True)
    if spec.kind == "mic" and spec.target == SYSTEM_DEVICE:
        from genrescope.stream.sources.reconnect import ReconnectingMicrophone
        from genrescope.stream.sources.system import open_system_audio

        # found again at every (re)open: follows the output the user switched to
        return ReconnectingMicrophone(SYSTEM_DEVICE, open_source=partial(open_system_audio, preferred_rate=sample_rate))
    if spec.kind == "mic":
        from genrescope.stream.sources.capture import MicrophoneSource
        from genrescope.stream.sources.reconnect import ReconnectingMicrophone

        # waits out an unplugged device; captures at the model's rate where the device offers it
        return ReconnectingMicrophone(
            spec.target or None, open_source=partial(MicrophoneSource, preferred_rate=sample_rate)
        )
    if spec.kind == "network":
        from genrescope.stream.sources.netsource import NetworkSource

        return NetworkSource(spec.target, stall_seconds=stall_seconds)
    from genrescope.stream.sources.filesource import FileSource, LoopedFile

    return LoopedFile(spec.target) if spec.loop else FileSource(spec.target, realtime=realtime)


def held(source: Iterable[AudioChunk]) -> AbstractContextManager:
    """What must stay entered while ``source`` is read: a device, or nothing."""
    return source if isinstance(source, AbstractContextManager) else nullcontext()


@dataclass(frozen=True)
class NamedSource:
    name: str
    source: SourceSpec

    @property
    def kind(self) -> str:
        return self.source.kind


def parse_source_option(text: str) -> NamedSource:
    """``NAME=SPEC``."""
    name, equals, spec = text.partition("=")
    if not equals or not spec:
        raise SourceSpecError(
            f"--source {redact(text)!r}: name each stream, NAME=SPEC (e.g. radio1=https://...), "
            "as several sources, --sources and --osc need"
        )
    return _checked(NamedSource(name, parse_source_spec(spec)))


def load_sources_file(path: Path) -> list[NamedSource]:
    """The ``[[stream]]`` entries of a TOML sources file."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise SourceSpecError(f"cannot read {path}: {error.strerror or error}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SourceSpecError(f"{path}: not valid TOML ({error})") from error
    sources = []
    for entry in _stream_entries(document, path):
        spec = parse_source_spec(entry["source"], base=path.parent)
        if entry.get("loop", False):
            if spec.kind != "file":
                raise SourceSpecError(f"{path}: stream {entry['name']!r}: loop applies to files only")
            spec = SourceSpec("file", spec.target, loop=True)
        sources.append(_checked(NamedSource(entry["name"], spec)))
    return sources


def _stream_entries(document: dict, path: Path) -> list[dict]:
    """The ``[[stream]]`` tables, each checked for its keys and their types (one line
    naming the entry and the key otherwise; nothing coerced)."""
    try:
        check_table(document, {"stream": STREAM_LIST}, "", required=("stream",))
        for number, entry in enumerate(document["stream"], 1):
            check_table(entry, STREAM_KEYS, f"stream #{number}", required=("name", "source"))
    except ShapeError as error:
        raise SourceSpecError(f"{path}: {error} (a stream is a [[stream]] table of name, source and loop)") from error
    if not document["stream"]:
        raise SourceSpecError(f"{path}: no [[stream]] entries (each needs name and source)")
    return document["stream"]


def check_unique(sources: list[NamedSource]) -> list[NamedSource]:
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise SourceSpecError(f"two streams are named {source.name!r}; names must be unique")
        seen.add(source.name)
    return sources


def _checked(source: NamedSource) -> NamedSource:
    if not NAME.fullmatch(source.name):
        raise SourceSpecError(f"stream name {redact(source.name)!r}: use 1-40 letters, digits, '-', '_' or '.'")
    return source


def open_named(
    source: NamedSource, sample_rate: int | None = None, stall_seconds: float = STALL_SECONDS
) -> tuple[Iterable[AudioChunk], AbstractContextManager]:
    """The source's blocks (paced in real time) and what must stay entered while they are
    read (the input device of a microphone), opened as a single stream's source is
    (``open_source``): bad files and devices fail here, before the server starts."""
    blocks = open_source(source.source, realtime=True, sample_rate=sample_rate, stall_seconds=stall_seconds)
    return blocks, held(blocks)
