"""The sources a user names: ``open_source(SPEC)`` for one stream, and named sources for a
multi-stream server: ``--source NAME=SPEC`` and ``--sources FILE.toml``.

A SPEC is what ``--source`` takes alone (``demo``, ``mic``/``mic:DEVICE``, a file) plus
``http(s)://`` network streams and ``loop:PATH`` for a file that starts over at its end.
The NAME is the stream's id in the protocol, the metrics and the OSC addresses, so it is
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
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from genrescope.stream.config_shape import BOOLEAN, STRING, Kind, ShapeError, check_table
from genrescope.stream.sources.chunk import STALL_SECONDS, AudioChunk
from genrescope.stream.sources.netsource import NetworkSource, is_network_url

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
LOOP_PREFIX = "loop:"
# A sources file: [[stream]] tables and nothing else.
STREAM_KEYS = {"name": STRING, "source": STRING, "loop": BOOLEAN}
STREAM_LIST = Kind("a list of [[stream]] tables", lambda value: isinstance(value, list))


def open_source(spec: str, realtime: bool = False, device: str | int | None = None,
                sample_rate: int | None = None) -> Iterable[AudioChunk]:
    """The source a user names: ``demo`` (a synthesised loop), ``mic`` or ``mic:DEVICE``
    (an input device; a context manager that releases it), ``system`` (what this computer
    plays: sources.system; also ``mic`` with device ``system``), or an audio file path
    (write ``./mic`` for a file named mic). ``realtime`` paces files like a live source;
    ``sample_rate`` (the engine's model rate, ``engine.spec.sample_rate``) is what a
    device records at when it can, sparing a resampler."""
    if spec == "demo":
        from genrescope.stream.sources.demo import DemoSource

        return DemoSource(realtime=True)
    if spec == "system" or (spec == "mic" and device == "system"):
        from genrescope.stream.sources.reconnect import ReconnectingMicrophone
        from genrescope.stream.sources.system import open_system_audio

        # found again at every (re)open: follows the output the user switched to
        return ReconnectingMicrophone("system", open_source=partial(open_system_audio, preferred_rate=sample_rate))
    if spec == "mic" or spec.startswith("mic:"):
        from genrescope.stream.sources.capture import MicrophoneSource
        from genrescope.stream.sources.reconnect import ReconnectingMicrophone

        # waits out an unplugged device; captures at the model's rate where the device offers it
        return ReconnectingMicrophone(spec.partition(":")[2] or device,
                                      open_source=partial(MicrophoneSource, preferred_rate=sample_rate))
    from genrescope.stream.sources.filesource import FileSource

    return FileSource(spec, realtime=realtime)


class SourceSpecError(ValueError):
    """A source option or sources file a user must fix: one line."""


@dataclass(frozen=True)
class NamedSource:
    name: str
    spec: str  # demo | mic[:DEVICE] | system | http(s)://URL | PATH
    loop: bool = False  # files only: start over at the end

    @property
    def kind(self) -> str:
        if self.spec == "demo":
            return "demo"
        if self.spec in ("mic", "system") or self.spec.startswith("mic:"):
            return "mic"  # an input device (system: the default output's monitor)
        return "network" if is_network_url(self.spec) else "file"


def parse_source_option(text: str) -> NamedSource:
    """``NAME=SPEC`` (``SPEC`` may start with ``loop:``)."""
    name, equals, spec = text.partition("=")
    if not equals or not spec:
        raise SourceSpecError(f"--source {text!r}: name each stream, NAME=SPEC (e.g. radio1=https://...), "
                              "as several sources, --sources and --osc need")
    loop = spec.startswith(LOOP_PREFIX)
    return _checked(NamedSource(name, spec.removeprefix(LOOP_PREFIX), loop))


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
        spec = entry["source"]
        source = NamedSource(entry["name"], spec, entry.get("loop", False))
        if source.kind == "file" and not Path(spec).is_absolute():
            source = NamedSource(source.name, str(path.parent / spec), source.loop)
        sources.append(_checked(source))
    return sources


def _stream_entries(document: dict, path: Path) -> list[dict]:
    """The ``[[stream]]`` tables, each checked for its keys and their types (one line
    naming the entry and the key otherwise; nothing coerced)."""
    try:
        check_table(document, {"stream": STREAM_LIST}, "", required=("stream",))
        for number, entry in enumerate(document["stream"], 1):
            check_table(entry, STREAM_KEYS, f"stream #{number}", required=("name", "source"))
    except ShapeError as error:
        raise SourceSpecError(f"{path}: {error} (a stream is a [[stream]] table of name, source and loop)"
                              ) from error
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
        raise SourceSpecError(f"stream name {source.name!r}: use 1-40 letters, digits, '-', '_' or '.'")
    if source.loop and source.kind != "file":
        raise SourceSpecError(f"stream {source.name!r}: loop applies to files only")
    return source


class LoopedFile:
    """A file played again and again, paced in real time."""

    def __init__(self, path: str):
        from genrescope.stream.sources.filesource import FileSource

        self._file = FileSource(path, realtime=True)
        self.name = self._file.name

    def __iter__(self) -> Iterator[AudioChunk]:
        while True:
            yield from self._file


def open_named(source: NamedSource, sample_rate: int | None = None, stall_seconds: float = STALL_SECONDS
               ) -> tuple[Iterable[AudioChunk], AbstractContextManager]:
    """The source's blocks (paced in real time) and what must stay entered while they are
    read (the input device of a microphone). Demo, files and microphones open as
    ``open_source`` opens them for a single stream, so a named microphone also waits out
    its device going away and counts the gap; ``sample_rate`` (the model's) is what a
    microphone records at where it can, ``stall_seconds`` how long a network stream may
    send nothing before it reconnects. Bad files and devices fail here, before the
    server starts."""
    if source.kind == "network":
        return NetworkSource(source.spec, stall_seconds=stall_seconds), nullcontext()
    if source.loop:
        return LoopedFile(source.spec), nullcontext()
    blocks = open_source(source.spec, realtime=True, sample_rate=sample_rate)
    return blocks, blocks if source.kind == "mic" else nullcontext()
