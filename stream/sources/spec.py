"""What a user names as a source, parsed once into a typed value every command shares.

A source spec is one of::

    demo                 the synthesised loop
    mic | mic:DEVICE     an input device (index or part of its name; none: the default)
    system               what this computer plays: the default output's monitor (mic:system)
    http(s)://URL        a radio stream (Icecast, Shoutcast, HLS); user:pass@ is basic auth
    loop:PATH            a file that starts over at its end
    PATH                 an audio file (write ./mic for a file named mic)

``serve --source`` (one stream or ``NAME=SPEC``), ``--sources FILE``, ``live`` and
``file`` all go through ``parse_source_spec``, so a spec means the same everywhere, and
what cannot apply to it is refused in one line (``refuse_inapplicable``) instead of being
ignored. ``SourceSpec.display`` is how a spec is shown: redacted (redaction.py).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from genrescope.stream.sources.redaction import redact

Kind = Literal["demo", "mic", "file", "network"]
LOOP_PREFIX = "loop:"
SYSTEM_DEVICE = "system"  # `system`, `mic:system`, `--device system`: the default output's monitor (system.py)
NETWORK_SCHEMES = ("http://", "https://")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class SourceSpecError(ValueError):
    """A source option or sources file a user must fix: one line."""


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source: its ``kind`` and ``target`` — the device for ``mic`` ("" = the
    default), the path for ``file``, the URL for ``network`` — and whether a file loops."""

    kind: Kind
    target: str = ""
    loop: bool = False

    @property
    def display(self) -> str:
        """The spec as a user wrote it, with any credentials hidden."""
        if self.kind == "mic":
            return f"mic:{self.target}" if self.target else "mic"
        return LOOP_PREFIX + self.target if self.loop else redact(self.target) or self.kind

    @property
    def endless(self) -> bool:
        """Runs until stopped (demo, devices, radio streams, looped files): never reaches an end."""
        return self.kind != "file" or self.loop


def is_network_url(text: str) -> bool:
    """Whether ``text`` names a radio stream (http or https, in any case)."""
    return text.lower().startswith(NETWORK_SCHEMES)


def parse_source_spec(text: str, base: Path | None = None, files_only: bool = False) -> SourceSpec:
    """The spec ``text`` names. A relative file path is taken from ``base`` (a sources
    file's folder) when given. ``files_only`` (``genrescope file``) reads ``demo`` and
    ``mic`` as file names and refuses the rest."""
    if not text:
        raise SourceSpecError("an empty source: give demo, mic[:DEVICE], an http(s):// URL or a file")
    if is_network_url(text):
        if files_only:
            raise SourceSpecError(f"{redact(text)} is a radio stream: `genrescope serve --source URL` plays it")
        return SourceSpec("network", text)
    if SCHEME.match(text):
        raise SourceSpecError(f"{redact(text)}: only http:// and https:// streams are supported")
    if not files_only and text == "demo":
        return SourceSpec("demo")
    if not files_only and text == SYSTEM_DEVICE:
        return SourceSpec("mic", SYSTEM_DEVICE)
    if not files_only and (text == "mic" or text.startswith("mic:")):
        return SourceSpec("mic", text.partition(":")[2])
    loop = not files_only and text.startswith(LOOP_PREFIX)
    path = text.removeprefix(LOOP_PREFIX) if loop else text
    if loop and (not path or parse_source_spec(path).kind != "file"):
        raise SourceSpecError(f"{redact(text)!r}: loop applies to files only, loop:PATH (./demo for a file named demo)")
    if base is not None and not Path(path).is_absolute():
        path = str(base / path)
    return SourceSpec("file", path, loop)


def file_argument(text: str) -> Path:
    """An argparse ``type`` for a file (or folder) argument — ``file``'s PATH, ``tag``'s
    PATHs: a radio URL is refused in one line, redacted, instead of "no such file"."""
    try:
        return Path(parse_source_spec(text, files_only=True).target)
    except SourceSpecError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def with_device(spec: SourceSpec, device: str | None) -> SourceSpec:
    """``spec`` with ``--device`` applied: a ``mic`` naming no device takes it."""
    return SourceSpec("mic", device) if device is not None and spec.kind == "mic" and not spec.target else spec


def refuse_inapplicable(
    specs: list[SourceSpec], device: str | None, stall_seconds: float | None, exit_at_end: bool
) -> None:
    """One line for an option that none of ``specs`` can use (it would be ignored)."""
    if device is not None and not any(spec.kind == "mic" and not spec.target for spec in specs):
        raise SourceSpecError(
            "--device applies to a mic source that names no device (mic, not mic:DEVICE); there is none here"
        )
    if stall_seconds is not None and not any(spec.kind == "network" for spec in specs):
        raise SourceSpecError("--stall-seconds applies to radio streams (http:// or https://); there is none here")
    if exit_at_end and all(spec.endless for spec in specs):
        raise SourceSpecError(
            "--exit-at-end: no source here ends (demo, mic, radio streams and loop: files run until stopped)"
        )
