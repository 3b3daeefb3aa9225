"""Argument checks for every command, written once: numbers in range, writable outputs.

argparse calls a ``type`` with the option's text and turns an ``ArgumentTypeError`` into
a usage error, so a bad value is refused before anything loads or streams — and before
a long run could end in a traceback, or lose its output at the very end (a plot path in
a missing folder is otherwise found out only when the stream is over). ``CliParser``
prints those errors as the one line every other user error gets.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
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
