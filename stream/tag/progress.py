"""Progress of a tagging run: a bar with files/s and audio-hours/s on a terminal, a plain
line every few seconds otherwise (a log file or a pipe gets no control characters)."""

from __future__ import annotations

import sys
import time
from typing import IO

PLAIN_EVERY_SECONDS = 10.0


class TagProgress:
    """``advance(audio_seconds)`` once per finished file; a context manager."""

    def __init__(self, total: int, stream: IO[str] = sys.stderr):
        self.total, self.stream = total, stream
        self.files, self.audio_seconds = 0, 0.0
        self.started = self._last_line = time.monotonic()
        self._bar = None
        if stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("tagging"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rates]}"),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=True,
            )
            self._task = self._bar.add_task("tagging", total=total, rates="")

    def __enter__(self) -> TagProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def rates(self) -> str:
        wall = max(time.monotonic() - self.started, 1e-9)
        return f"{self.files / wall:.1f} files/s, {self.audio_seconds / 3600 / wall:.3f} audio-h/s"

    def advance(self, audio_seconds: float) -> None:
        self.files += 1
        self.audio_seconds += audio_seconds
        if self._bar is not None:
            self._bar.update(self._task, advance=1, rates=self.rates())
        elif time.monotonic() - self._last_line >= PLAIN_EVERY_SECONDS or self.files == self.total:
            self._last_line = time.monotonic()
            print(f"tagging: {self.files}/{self.total} files, {self.rates()}", file=self.stream, flush=True)
