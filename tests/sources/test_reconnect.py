"""A live input whose device goes away and comes back, through a real PulseAudio daemon:
the null sink (its monitor is the only source) is unloaded under the open stream and
loaded again (see tests/pulse.py); the stream must resume and count the gap."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
from test_capture import wait_until, watched

from genrescope.stream.sources.reconnect import ReconnectingMicrophone
from pulse import PulseServer
from support import REPO, cli_command


def unplug_and_replug_when_waiting(pulse: PulseServer, source: ReconnectingMicrophone) -> threading.Thread:
    """Unload the sink now; load it again once the source says it is waiting for it."""

    def replug() -> None:
        if wait_until(lambda: source.waiting):
            pulse.load_sink()

    pulse.unload_sink()
    thread = threading.Thread(target=replug)
    thread.start()
    return thread


def test_stream_resumes_after_the_device_comes_back_and_counts_the_gap(doomed_pulse: PulseServer) -> None:
    source = ReconnectingMicrophone("pulse", retry_seconds=0.2)
    replug = None
    frames_after, gap_reported = 0, 0
    for chunk in watched(source):
        if replug is None:
            replug = unplug_and_replug_when_waiting(doomed_pulse, source)
        elif source.gaps:
            gap_reported += chunk.dropped_frames
            frames_after += len(chunk.samples)
            assert np.isfinite(chunk.samples).all()
            if frames_after >= source.current.sample_rate:  # a second of audio after the gap
                break
    source.close()
    replug.join()
    assert source.gaps == 1 and source.gap_seconds > 0
    assert gap_reported >= round(source.gap_seconds * source.current.sample_rate)  # the gap, counted
    assert not source.waiting


def test_live_command_waits_for_the_device_and_reports_the_gap(
    doomed_pulse: PulseServer, test_model_path: Path, tmp_path: Path
) -> None:
    """`genrescope live` keeps going through an unplug: its summary counts the gap."""
    out = tmp_path / "live.jsonl"
    process = subprocess.Popen(
        cli_command(
            "live",
            "--device",
            "pulse",
            "--seconds",
            "4",
            "--jsonl",
            str(out),
            "--quiet",
            "--model",
            str(test_model_path),
        ),
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(process.stderr))
    reader.start()
    assert wait_until(lambda: out.exists() and out.stat().st_size > 0)  # updates flow
    doomed_pulse.unload_sink()
    assert wait_until(lambda: any("waiting for it to come back" in line for line in log))
    doomed_pulse.load_sink()
    assert process.wait(timeout=120) == 0
    reader.join()
    stderr = "".join(log)
    assert "is back after" in stderr and "Traceback" not in stderr, stderr
    dropped = int(stderr.split("dropped frames: ")[1].split()[0])
    assert dropped > 0
