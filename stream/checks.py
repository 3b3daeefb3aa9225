"""Argument checks for every command, written once: numbers in range, writable outputs.

argparse calls a ``type`` with the option's text and turns an ``ArgumentTypeError`` into
a usage error, so a bad value is refused before anything loads or streams — and before
a long run could end in a traceback, or lose its output at the very end (a plot path in
a missing folder is otherwise found out only when the stream is over). ``CliParser``
prints those errors as the one line every other user error gets.

Configuration files get the same care (``check_table``): their shape and types are
checked before anything reads them, one line naming the key, never a coercion. TOML and
YAML parse into tables, lists and scalars; code that reads them as the shape it expects
fails far from the mistake (``stream = ["radio1"]`` ended in an AttributeError) or, worse,
coerces: ``bool("no")`` is True, ``tuple("a.pt")`` is ``('a', '.', 'p', 't')``. Each file a
command reads goes through ``check_table`` with the ``Kind`` of every key it knows; any
other key is a typo, refused.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Collection, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

STDOUT = "-"


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, ``genrescope: error: ...``, exit 2
    (subcommand parsers inherit it), pointing at the command's ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"genrescope: error: {message} (see `{self.prog} --help`)\n")


@dataclass(frozen=True)
class Number:
    """A finite ``kind`` (int or float) within the bounds: ``low``/``high`` inclusive,
    ``above``/``below`` exclusive. An instance is an argparse ``type``."""

    kind: type = float
    low: float | None = None
    high: float | None = None
    above: float | None = None
    below: float | None = None

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {self._noun()}, got {text!r}") from None
        if not math.isfinite(value) or not self.admits(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text}")
        return value

    def admits(self, value: float) -> bool:
        return (
            (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
            and (self.above is None or value > self.above)
            and (self.below is None or value < self.below)
        )

    def describe(self) -> str:
        """The range in words, e.g. 'an integer ≥ 0 and ≤ 65535', 'a number > 0'."""
        bounds = [
            f"{sign} {bound:g}"
            for sign, bound in (("≥", self.low), (">", self.above), ("≤", self.high), ("<", self.below))
            if bound is not None
        ]
        return f"{self._noun()} {' and '.join(bounds)}".strip()

    def _noun(self) -> str:
        return "an integer" if self.kind is int else "a number"


# The ranges commands share; one place, so the same option means the same everywhere.
COUNT = Number(int, low=1)  # jobs, threads, epochs, genres shown
SEED = Number(int, low=0)
PORT = Number(int, low=0, high=65535)  # 0 = any free port
SECONDS = Number(float, above=0)
SHARE = Number(float, low=0, high=1)
POSITIVE = Number(float, above=0)
NON_NEGATIVE = Number(float, low=0)


def output_file(text: str) -> Path:
    """A file path that can be created or overwritten: not a folder, in a folder that
    exists and is writable. ``-`` (stdout) passes as ``Path('-')``."""
    path = Path(text)
    if text == STDOUT:
        return path
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: folder {folder} does not exist")
    try:  # really try: permission bits do not tell root about read-only or virtual file systems
        if path.exists():
            open(path, "a").close()  # neither truncated nor touched
        else:
            open(path, "x").close()
            path.unlink()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write {text}: {error.strerror or error}") from None
    return path


class OutputError(OSError):
    """An output that could be checked but not opened after all (the disk changed meanwhile)."""


def open_jsonl(path: Path | None, stack: ExitStack) -> IO[str] | None:
    """A JSON-lines output checked by ``output_file``: ``-`` is stdout, line-buffered so a
    reader gets each line at once; the file is closed with ``stack``."""
    if path is None:
        return None
    if str(path) == STDOUT:
        sys.stdout.reconfigure(line_buffering=True)
        return sys.stdout
    try:
        return stack.enter_context(open(path, "w"))
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}") from error


def output_folder(text: str) -> Path:
    """A folder to write into: existing and writable, or creatable (its nearest existing
    parent is a writable folder)."""
    path = Path(text)
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write into {text}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {text}: permission denied on {existing}")
    return path


def image_file(text: str) -> Path:
    """An output file whose extension matplotlib can draw (png, pdf, svg, ...)."""
    path = output_file(text)
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise argparse.ArgumentTypeError(f"cannot draw {text}: its extension is none of {', '.join(sorted(formats))}")
    return path


# --- configuration files ---------------------------------------------------------------


class ShapeError(ValueError):
    """A value of the wrong kind, a missing or an unknown key; the caller adds the file
    (and, where its parser knows them, the line of ``key``)."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Kind:
    """What a key's value must be: ``noun`` says it in an error message."""

    noun: str
    admits: Callable[[object], bool]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


STRING = Kind("a string", lambda value: isinstance(value, str))
BOOLEAN = Kind("true or false", lambda value: isinstance(value, bool))
INTEGER = Kind("an integer", lambda value: isinstance(value, int) and not isinstance(value, bool))
NUMBER = Kind("a number", _number)  # an integer is a number too: 1 for 1.0 loses nothing


def list_of(kind: Kind) -> Kind:
    """A list whose every element is ``kind``."""
    return Kind(
        f"a list, each element {kind.noun}", lambda value: isinstance(value, list) and all(map(kind.admits, value))
    )


def check_table(value: object, kinds: Mapping[str, Kind], where: str, required: Collection[str] = ()) -> dict:
    """``value`` itself if it is a table whose keys are all in ``kinds`` (those in
    ``required`` present) and whose values are of their kind; else ``ShapeError``,
    naming ``where`` (e.g. "stream #2"; "" for a file's top level) and the key."""
    if not isinstance(value, dict):
        raise ShapeError(f"{where or 'the file'} must be a table of keys and values, got {shown(value)}")
    prefix = f"{where}: " if where else ""
    unknown = sorted(set(value) - set(kinds))
    if unknown:
        raise ShapeError(f"{prefix}unknown key {unknown[0]!r} (known: {', '.join(kinds)})", unknown[0])
    missing = [key for key in required if key not in value]
    if missing:
        raise ShapeError(f"{prefix}{missing[0]} is missing")
    for key, item in value.items():
        if not kinds[key].admits(item):
            raise ShapeError(f"{prefix}{key} must be {kinds[key].noun}, got {shown(item)}", key)
    return value


def shown(value: object) -> str:
    """A value as an error message shows it: its kind, and its text cut short."""
    kind = {bool: "a boolean", str: "text", int: "an integer", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
