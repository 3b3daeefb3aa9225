"""The ``system`` source through a real PulseAudio daemon (tests/pulse.py): what is played
into the default sink comes back from its monitor, not from the default input, and
``genrescope live --device system`` hears the genres ``genrescope file`` finds in the
same music."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from test_capture import MODEL_SAMPLE_RATE, TONE_HZ, dominant_frequency, record_tone, tone_wav  # noqa: F401

from genrescope.stream.sources.audio_file import read_audio
from genrescope.stream.sources.system import open_system_audio
from pulse import SINK, PulseServer
from support import REPO, cli_command

CD_RATE = 44_100  # the null sink runs at it: no resampling on the way in
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


def test_records_the_default_outputs_monitor(default_input_elsewhere: PulseServer, tone_wav: Path) -> None:  # noqa: F811
    with open_system_audio(preferred_rate=MODEL_SAMPLE_RATE) as source:
        assert source.name.startswith(f"system audio ({SINK}.monitor): pulse")
        frames = record_tone(source, default_input_elsewhere, tone_wav)
    assert dominant_frequency(frames[len(frames) // 5 :, 0], source.sample_rate) == pytest.approx(TONE_HZ, abs=5)


def test_live_device_system_hears_the_genres_file_finds(
    default_input_elsewhere: PulseServer, music_clips: list[Path], tmp_path: Path
) -> None:
    """A real 30 s clip looped into the default sink while `live --device system` records
    its monitor for 60 s, against `file` on the same loop, shipped model: once the context
    is full (30 s), each mean covers whole periods of the loop, so they compare whatever
    the phase the live run started at."""
    loop = tmp_path / "loop.wav"
    soundfile.write(loop, np.tile(read_audio(music_clips[0], CD_RATE), 5), CD_RATE)  # the sink's own rate
    offline, live_out = tmp_path / "file.jsonl", tmp_path / "live.jsonl"
    genrescope = cli_command()
    subprocess.run(
        [*genrescope, "file", str(loop), "--quiet", "--jsonl", str(offline)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    player = default_input_elsewhere.play(loop)
    try:
        live = subprocess.run(
            [*genrescope, "live", "--device", "system", "--seconds", "60", "--quiet", "--jsonl", str(live_out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            env=default_input_elsewhere.env,
        )
    finally:
        player.terminate()
    assert live.returncode == 0, live.stderr
    heard, expected = _mean(live_out, after_seconds=30.0), _mean(offline, after_seconds=30.0)
    assert max(heard, key=heard.get) == max(expected, key=expected.get)
    assert sum(abs(heard[genre] - expected[genre]) for genre in expected) / 2 < 0.2  # total variation distance


def _mean(path: Path, after_seconds: float) -> dict[str, float]:
    """Mean smoothed probabilities of the updates after ``after_seconds`` of stream."""
    updates = [json.loads(line) for line in path.read_text().splitlines()]
    kept = [update["probabilities"] for update in updates if update["time"] >= after_seconds]
    assert kept, f"no update after {after_seconds} s in {path}"
    return {genre: float(np.mean([p[genre] for p in kept])) for genre in kept[0]}
