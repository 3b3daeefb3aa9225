"""Decode audio files block by block with libsndfile or FFmpeg (through PyAV).

libsndfile (via soundfile) reads wav/flac/ogg and more; FFmpeg's libraries, in-process
through PyAV, decode MP3 and whatever libsndfile cannot (m4a/aac, opus, wma, video
soundtracks...). Bad input becomes one ``AudioFileError`` with a sentence a user can
act on — never a traceback — and a file that breaks part-way still delivers everything
before the break.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.conditioning import Conditioner

log = logging.getLogger(__name__)

BLOCK_SECONDS = 0.1
# libsndfile 1.2's MP3 reader returns wrong samples when read in blocks (a whole-file
# read is right, a 0.1 s block read is off by up to 0.5 full scale, and libmpg123
# prints frame errors straight to stderr), so MP3 goes to FFmpeg.
PREFER_FFMPEG = {".mp3"}


class AudioFileError(Exception):
    """A file that cannot be streamed, with the reason in plain words."""


def check_readable(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if not path.is_file():
        raise AudioFileError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: the file is empty (0 bytes)")


def decode_blocks(path: str | Path, block_seconds: float = BLOCK_SECONDS) -> Iterator[AudioChunk]:
    """Blocks of ``path`` at its own rate and channel count."""
    path = Path(path)
    check_readable(path)
    if path.suffix.lower() in PREFER_FFMPEG:
        yield from _ffmpeg_blocks(path, block_seconds)
        return
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        yield from _ffmpeg_blocks(path, block_seconds)
        return
    with handle:
        if handle.frames == 0:
            raise AudioFileError(f"{path}: contains no audio samples")
        yield from _soundfile_blocks(handle, path, block_seconds)


def _soundfile_blocks(handle: sf.SoundFile, path: Path, block_seconds: float) -> Iterator[AudioChunk]:
    block = max(1, int(handle.samplerate * block_seconds))
    delivered = 0
    while True:
        try:
            data = handle.read(block, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as error:
            log.warning("%s: decoding stopped after %.2f s: %s", path, delivered / handle.samplerate, error)
            return
        if len(data) == 0:
            return
        delivered += len(data)
        yield AudioChunk(data, handle.samplerate)


def _ffmpeg_blocks(path: Path, block_seconds: float) -> Iterator[AudioChunk]:
    """The first audio stream, decoded by FFmpeg in-process, in blocks of ≈``block_seconds``.

    In-process matters for speed: an ``ffmpeg`` subprocess cost ≈40 ms of start-up per
    file, more than decoding a whole 30 s MP3 (≈16 ms).
    """
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as error:
        raise _undecodable(path, error) from error
    with container:
        if not container.streams.audio:
            raise AudioFileError(f"{path}: has no audio stream")
        delivered = 0
        try:
            for block in _blocks(container, block_seconds):
                delivered += len(block.samples)
                yield block
        except (av.FFmpegError, ValueError) as error:
            if delivered == 0:
                raise _undecodable(path, error) from error
            log.warning("%s: decoding stopped part-way: %s", path, _reason(error))
        if delivered == 0:
            raise AudioFileError(f"{path}: contains no decodable audio")


def _undecodable(path: Path, error: Exception) -> AudioFileError:
    return AudioFileError(f"{path}: not an audio file, or corrupt beyond decoding ({_reason(error)})")


def _reason(error: Exception) -> str:
    """FFmpeg's own words, without PyAV's errno and the path repeated."""
    return getattr(error, "strerror", None) or str(error)


def _blocks(container: av.container.InputContainer, block_seconds: float) -> Iterator[AudioChunk]:
    """Decoded frames as float32 [n, channels], gathered into blocks of ≈``block_seconds``.

    A change of rate or channel count mid-stream (it happens in broadcast captures) ends
    the block, so every block has one shape; the conditioner handles the change.
    """
    to_float = av.AudioResampler(format="fltp")  # any sample format → planar float, same rate and layout
    pending: list[np.ndarray] = []
    pending_frames, rate = 0, 0
    for frame in container.decode(container.streams.audio[0]):
        for converted in to_float.resample(frame):
            samples = converted.to_ndarray().T
            if pending and (converted.sample_rate != rate or samples.shape[1] != pending[0].shape[1]):
                yield AudioChunk(np.concatenate(pending), rate)
                pending, pending_frames = [], 0
            rate = converted.sample_rate
            pending.append(samples)
            pending_frames += len(samples)
            if pending_frames >= rate * block_seconds:
                yield AudioChunk(np.concatenate(pending), rate)
                pending, pending_frames = [], 0
    if pending:
        yield AudioChunk(np.concatenate(pending), rate)


def read_audio(
    path: str | Path, sample_rate: int, max_seconds: float | None = None, block_seconds: float = BLOCK_SECONDS
) -> np.ndarray:
    """A whole file (or its first ``max_seconds``) as mono float32 at ``sample_rate``."""
    conditioner = Conditioner(sample_rate)
    parts, total = [], 0
    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    for chunk in decode_blocks(path, block_seconds):
        parts.append(conditioner.process(chunk.samples, chunk.sample_rate))
        total += len(parts[-1])
        if limit is not None and total >= limit:
            break
    parts.append(conditioner.flush())
    audio = np.concatenate(parts)
    return audio[:limit] if limit is not None else audio
