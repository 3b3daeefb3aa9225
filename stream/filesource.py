"""Stream a file through the engine, as fast as possible or paced like a live source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from genrescope.stream.audio_file import BLOCK_SECONDS, check_readable, decode_blocks
from genrescope.stream.pacing import paced
from genrescope.stream.source import AudioChunk


class FileSource:
    """Iterable of the file's blocks; ``realtime`` sleeps so audio arrives at 1× speed."""

    def __init__(self, path: str | Path, realtime: bool = False, block_seconds: float = BLOCK_SECONDS):
        self.path = Path(path)
        check_readable(self.path)
        self.realtime = realtime
        self.block_seconds = block_seconds

    @property
    def name(self) -> str:
        return self.path.name

    def __iter__(self) -> Iterator[AudioChunk]:
        blocks = decode_blocks(self.path, self.block_seconds)
        return paced(blocks) if self.realtime else blocks
