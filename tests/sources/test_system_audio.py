"""The ``system`` source through a real PulseAudio daemon (tests/pulse.py): what is played
into the default sink comes back from its monitor, not from the default input, and
``genrescope live --device system`` hears the genres ``genrescope file`` finds in the
same music."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from genrescope.stream.sources.audio_file import read_audio
from genrescope.stream.sources.system import open_system_audio
from pulse import SINK, PulseServer
from support import REPO
from test_capture import MODEL_SAMPLE_RATE, TONE_HZ, dominant_frequency, record_tone, tone_wav  # noqa: F401

OTHER = "desk"  # a second null sink whose monitor is made the default *input*


@pytest.fixture
def default_input_elsewhere(pulse: PulseServer) -> Iterator[PulseServer]:
    """The default input is another sink's (silent) monitor, as a desktop's microphone
    would be; the default output stays the sink the tests play into."""
    module = pulse.pactl("load-module", "module-null-sink", f"sink_name={OTHER}")
    pulse.pactl("set-default-sink", SINK)
    pulse.pactl("set-default-source", f"{OTHER}.monitor")
    try:
        yield pulse
    finally:
        pulse.pactl("set-default-source", f"{SINK}.monitor")
        pulse.pactl("unload-module", module)


def test_records_the_default_outputs_monitor(default_input_elsewhere: PulseServer, tone_wav: Path) -> None:
    with open_system_audio(preferred_rate=MODEL_SAMPLE_RATE) as source:
        assert source.name.startswith(f"system audio ({SINK}.monitor): pulse")
        frames = record_tone(source, default_input_elsewhere, tone_wav)
    assert dominant_frequency(frames[len(frames) // 5 :, 0], source.sample_rate) == pytest.approx(TONE_HZ, abs=5)


def test_live_device_system_hears_the_genres_file_finds(
    default_input_elsewhere: PulseServer, music_clips: list[Path], tmp_path: Path
) -> None:
    """A real clip played (three times over) into the default sink while `live --device
    system` records its monitor: the mean genre probabilities over the live run, once its
    context is full, against `file`'s over the same clip, shipped model."""
    clip = tmp_path / "clip.wav"
    audio = read_audio(music_clips[0], MODEL_SAMPLE_RATE)
    soundfile.write(clip, np.tile(audio, 3), MODEL_SAMPLE_RATE)
    offline = tmp_path / "file.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "genrescope.stream.cli",
            "file",
            str(music_clips[0]),
            "--quiet",
            "--jsonl",
            str(offline),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    player = default_input_elsewhere.play(clip)
    try:
        live_out = tmp_path / "live.jsonl"
        live = subprocess.run(
            [
                sys.executable,
                "-m",
                "genrescope.stream.cli",
                "live",
                "--device",
                "system",
                "--seconds",
                "45",
                "--quiet",
                "--jsonl",
                str(live_out),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            env=default_input_elsewhere.env,
        )
    finally:
        player.terminate()
    assert live.returncode == 0, live.stderr
    heard = _mean(live_out, after_seconds=15.0)
    expected = _mean(offline, after_seconds=15.0)
    print(live.stderr, "\nlive", heard, "\nfile", expected)
    assert max(heard, key=heard.get) == max(expected, key=expected.get)
    assert sum(abs(heard[genre] - expected[genre]) for genre in expected) / 2 < 0.2  # total variation distance


def _mean(path: Path, after_seconds: float) -> dict[str, float]:
    """Mean smoothed probabilities of the updates after ``after_seconds`` of stream."""
    updates = [json.loads(line) for line in path.read_text().splitlines()]
    kept = [update["probabilities"] for update in updates if update["time"] >= after_seconds]
    assert kept, f"no update after {after_seconds} s in {path}"
    return {genre: float(np.mean([p[genre] for p in kept])) for genre in kept[0]}
