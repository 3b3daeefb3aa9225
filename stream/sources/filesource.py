"""Stream a file through the engine, as fast as possible or paced like a live source."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from genrescope.stream.sources.audio_file import BLOCK_SECONDS, check_readable, decode_blocks
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.pacing import paced


class FileSource:
    """Iterable of the file's blocks; ``realtime`` sleeps so audio arrives at 1× speed.

    The first block is decoded on construction, so a file that is not audio is refused
    up front with its ``AudioFileError`` — in the caller's thread, before a server
    starts serving it — rather than in the engine's thread mid-way; the decoder it
    opened is then the one the first iteration continues with.
    """

    def __init__(self, path: str | Path, realtime: bool = False, block_seconds: float = BLOCK_SECONDS):
        self.path = Path(path)
        check_readable(self.path)
        self.realtime = realtime
        self.block_seconds = block_seconds
        self._opened: Iterator[AudioChunk] | None = self._probe()

    def _probe(self) -> Iterator[AudioChunk]:
        """The decoder, with its first block (if any) decoded already."""
        blocks = decode_blocks(self.path, self.block_seconds)
        first = next(blocks, None)
        return itertools.chain([first] if first is not None else [], blocks)

    @property
    def name(self) -> str:
        return self.path.name

    def __iter__(self) -> Iterator[AudioChunk]:
        blocks, self._opened = self._opened or decode_blocks(self.path, self.block_seconds), None
        return paced(blocks) if self.realtime else blocks


class LoopedFile:
    """A file played again and again, paced in real time (``loop:PATH``)."""

    def __init__(self, path: str | Path):
        self._file = FileSource(path, realtime=True)
        self.path, self.name = self._file.path, self._file.name

    def __iter__(self) -> Iterator[AudioChunk]:
        while True:
            yield from self._file
