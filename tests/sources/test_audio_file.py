"""Real decoding of the formats users have: wav, flac, ogg, mp3 (libsndfile), m4a (ffmpeg)."""

import shutil
import subprocess

import numpy as np
import pytest

from genrescope.stream.sources.audio_file import AudioFileError, decode_blocks, read_audio
from support import write_tone


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_formats_decode_to_the_same_tone(tmp_path, suffix):
    path = write_tone(tmp_path / f"tone{suffix}", 2.0, rate=48_000, channels=2, frequency=1000.0)
    audio = read_audio(path, 44_100)
    assert len(audio) == pytest.approx(2.0 * 44_100, rel=0.03)  # mp3 adds encoder padding
    spectrum = np.abs(np.fft.rfft(audio[4410:-4410]))
    peak_hz = np.argmax(spectrum) * 44_100 / len(audio[4410:-4410])
    assert peak_hz == pytest.approx(1000.0, abs=5.0)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_m4a_goes_through_ffmpeg(tmp_path):
    """FFmpeg (PyAV) keeps the stream's own rate and channel count: 5.1 at 32 kHz here."""
    wav = write_tone(tmp_path / "tone.wav", 2.0, rate=32_000, channels=6)
    m4a = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    chunks = list(decode_blocks(m4a))
    total = sum(len(c.samples) for c in chunks)
    assert {(c.sample_rate, c.samples.shape[1]) for c in chunks} == {(32_000, 6)}
    assert total == pytest.approx(2.0 * 32_000, rel=0.05)


def test_read_audio_limits_duration(tmp_path):
    path = write_tone(tmp_path / "long.flac", 5.0, rate=22_050)
    assert len(read_audio(path, 44_100, max_seconds=2.0)) == 2 * 44_100


def test_directory_is_refused(tmp_path):
    with pytest.raises(AudioFileError, match="not a regular file"):
        list(decode_blocks(tmp_path))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg to write the MP3 halves")
def test_rate_and_channel_changes_mid_stream_lose_nothing(tmp_path):
    """Two raw MP3 streams back to back (mono 44.1 kHz, then stereo 32 kHz), as a
    broadcast capture can be: every second arrives, each block with one shape."""
    halves = []
    for name, rate, channels in (("a", 44_100, 1), ("b", 32_000, 2)):
        halves.append(tmp_path / f"{name}.mp3")
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"sine=f=440:r={rate}:d=1",
                "-ac",
                str(channels),
                "-id3v2_version",
                "0",
                "-write_xing",
                "0",
                str(halves[-1]),
            ],
            check=True,
        )
    joined = tmp_path / "joined.mp3"
    joined.write_bytes(b"".join(h.read_bytes() for h in halves))
    chunks = list(decode_blocks(joined))
    assert {(c.sample_rate, c.samples.shape[1]) for c in chunks} >= {(44_100, 1), (32_000, 2)}
    assert sum(c.seconds for c in chunks) == pytest.approx(2.0, abs=0.15)
    assert len(read_audio(joined, 44_100)) == pytest.approx(2.0 * 44_100, rel=0.08)
