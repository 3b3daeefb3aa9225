"""Decode audio files block by block with libsndfile or ffmpeg.

libsndfile (via soundfile) reads wav/flac/ogg/mp3 and more without a subprocess; ffmpeg
decodes whatever libsndfile cannot (m4a/aac, opus, wma, video soundtracks...). Bad
input becomes one ``AudioFileError`` with a sentence a user can act on — never a
traceback — and a file that breaks part-way still delivers everything before the break.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

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
    rate, channels = _probe(path)
    command = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
               "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    frame_bytes = 4 * channels
    block_bytes = max(1, int(rate * block_seconds)) * frame_bytes
    delivered = 0
    try:
        while chunk := process.stdout.read(block_bytes):
            usable = len(chunk) - len(chunk) % frame_bytes
            data = np.frombuffer(chunk[:usable], dtype=np.float32).reshape(-1, channels)
            delivered += len(data)
            yield AudioChunk(data.copy(), rate)
    finally:
        process.stdout.close()
        process.kill()
        stderr = process.communicate()[1].decode(errors="replace").strip()
    if delivered == 0:
        raise AudioFileError(f"{path}: contains no decodable audio{': ' + stderr.splitlines()[-1] if stderr else ''}")
    if stderr:
        log.warning("%s: ffmpeg reported: %s", path, stderr.splitlines()[-1])


def _ffmpeg_present() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _probe(path: Path) -> tuple[int, int]:
    """Sample rate and channels of the first audio stream, per ffprobe."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate,channels",
         "-of", "json", str(path)], capture_output=True, text=True, timeout=30,
    )
    streams = json.loads(result.stdout or "{}").get("streams", [])
    if result.returncode != 0 or not streams:
        raise AudioFileError(f"{path}: not an audio file, or corrupt beyond decoding")
    return int(streams[0]["sample_rate"]), int(streams[0]["channels"])


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
