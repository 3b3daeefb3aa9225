"""Decode audio files block by block with libsndfile or ffmpeg.

libsndfile (via soundfile) reads wav/flac/ogg/mp3 and more without a subprocess; ffmpeg
decodes whatever libsndfile cannot (m4a/aac, opus, wma, video soundtracks...). Bad
input becomes one ``AudioFileError`` with a sentence a user can act on — never a
traceback — and a file that breaks part-way still delivers everything before the break.
"""

from __future__ import annotations

import logging
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf

from stream.conditioning import Conditioner
from stream.source import AudioChunk

log = logging.getLogger(__name__)

BLOCK_SECONDS = 0.1
# libmpg123 inside libsndfile prints frame errors straight to stderr on some real MP3s
# that ffmpeg decodes cleanly, so MP3 goes to ffmpeg first when it is installed.
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
    if path.suffix.lower() in PREFER_FFMPEG and _ffmpeg_present():
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
    if not _ffmpeg_present():
        raise AudioFileError(f"{path}: not a format libsndfile reads, and ffmpeg is not installed to try it")
    # A WAV stream rather than raw PCM: its header tells the rate and channel count, so no
    # separate ffprobe process is needed (that second process cost as much as decoding
    # a 30 s MP3).
    command = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
               "-f", "wav", "-acodec", "pcm_f32le", "-"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    header, delivered = None, 0
    try:
        header = _read_wav_header(process.stdout)
        if header is not None:
            rate, channels = header
            frame_bytes = 4 * channels
            block_bytes = max(1, int(rate * block_seconds)) * frame_bytes
            while chunk := process.stdout.read(block_bytes):
                usable = len(chunk) - len(chunk) % frame_bytes
                data = np.frombuffer(chunk[:usable], dtype=np.float32).reshape(-1, channels)
                delivered += len(data)
                yield AudioChunk(data.copy(), rate)
    finally:
        process.stdout.close()
        process.kill()
        stderr = _last_line(process)
    if header is None:
        raise AudioFileError(f"{path}: not an audio file, or corrupt beyond decoding{stderr}")
    if delivered == 0:
        raise AudioFileError(f"{path}: contains no decodable audio{stderr}")
    if stderr:
        log.warning("%s: ffmpeg reported%s", path, stderr)


def _read_wav_header(stream: IO[bytes]) -> tuple[int, int] | None:
    """(sample rate, channels) from the head of a streamed WAV, positioned at its samples.

    Walks the RIFF chunks up to ``data``; ``None`` when the stream ends first (ffmpeg
    found no audio to decode).
    """
    if len(riff := stream.read(12)) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        return None
    rate = channels = None
    while len(head := stream.read(8)) == 8:
        name, size = head[:4], struct.unpack("<I", head[4:])[0]
        if name == b"data":
            return (rate, channels) if rate and channels else None
        body = stream.read(size + size % 2)  # chunks are padded to even sizes
        if name == b"fmt " and len(body) >= 8:
            channels, rate = struct.unpack("<HI", body[2:8])
    return None


def _last_line(process: subprocess.Popen) -> str:
    """ffmpeg's last complaint, as a suffix for a message (empty when it said nothing)."""
    stderr = process.communicate()[1].decode(errors="replace").strip()
    return f": {stderr.splitlines()[-1]}" if stderr else ""


def _ffmpeg_present() -> bool:
    return shutil.which("ffmpeg") is not None


def read_audio(path: str | Path, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """A whole file (or its first ``max_seconds``) as mono float32 at ``sample_rate``."""
    conditioner = Conditioner(sample_rate)
    parts, total = [], 0
    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    for chunk in decode_blocks(path):
        parts.append(conditioner.process(chunk.samples, chunk.sample_rate))
        total += len(parts[-1])
        if limit is not None and total >= limit:
            break
    parts.append(conditioner.flush())
    audio = np.concatenate(parts)
    return audio[:limit] if limit is not None else audio
