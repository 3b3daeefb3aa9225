"""MicrophoneSource end to end: a tone played into a real PulseAudio null sink, recorded
back through PortAudio (see tests/pulse.py), plus the errors a user can meet."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.sources.capture import (
    DeviceLostError,
    MicrophoneSource,
    UnknownDeviceError,
    _frames_lost,
    format_devices,
    list_input_devices,
    rescan_devices,
)
from genrescope.stream.sources.chunk import AudioChunk
from pulse import PulseServer

MODEL_SAMPLE_RATE = FrontendSpec().sample_rate
TONE_HZ = 1000.0
TONE_PEAK = 0.5
WATCHDOG_SECONDS = 30.0  # only ends a capture that never sees audio; not a timing check


@pytest.fixture(scope="module")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four seconds of a 1 kHz sine at half scale, mono 16-bit."""
    t = np.arange(4 * MODEL_SAMPLE_RATE) / MODEL_SAMPLE_RATE
    path = tmp_path_factory.mktemp("tone") / "tone.wav"
    soundfile.write(path, TONE_PEAK * np.sin(2 * np.pi * TONE_HZ * t), MODEL_SAMPLE_RATE, "PCM_16")
    return path


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def watched(source: MicrophoneSource) -> Iterator[AudioChunk]:
    """Iterate ``source``; if it has not ended after a long while, close it and fail,
    so a broken audio path fails the test instead of hanging it."""
    fired = threading.Event()

    def give_up() -> None:
        fired.set()
        source.close()

    watchdog = threading.Timer(WATCHDOG_SECONDS, give_up)
    watchdog.start()
    try:
        yield from source
    finally:
        watchdog.cancel()
    if fired.is_set():
        pytest.fail(f"capture had to be stopped after {WATCHDOG_SECONDS:.0f} s")


def wait_until(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` until it holds; False if it never does within the watchdog."""
    deadline = time.monotonic() + WATCHDOG_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def record_tone(source: MicrophoneSource, pulse: PulseServer, wav: Path) -> np.ndarray:
    """Start the tone once audio flows (the pulse path takes ~2 s to come up), then
    return half a second of capture from the first loud chunk on."""
    wanted = source.sample_rate // 2
    captured: list[np.ndarray] = []
    player = None
    try:
        for chunk in watched(source):
            player = player or pulse.play(wav)
            if captured or rms(chunk.samples) > TONE_PEAK / 4:
                captured.append(chunk.samples)
            if sum(map(len, captured)) >= wanted:
                break
    finally:
        if player is not None:
            player.terminate()
            player.wait()
    assert captured, "the tone never arrived"
    return np.concatenate(captured)


def dominant_frequency(signal_: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal_ * np.hanning(len(signal_))))
    return float(np.argmax(spectrum) * sample_rate / len(signal_))


def test_lists_the_pulse_input(pulse: PulseServer) -> None:
    devices = list_input_devices()
    names = [device.name for device in devices]
    assert "pulse" in names
    assert sum(device.is_default for device in devices) == 1
    table = format_devices(devices)
    assert "pulse" in table and "*" in table
    assert len(table.splitlines()) == len(devices) + 1


@pytest.mark.parametrize("device", [None, "PULSE"], ids=["default", "by-name"])
def test_records_a_played_tone(pulse: PulseServer, tone_wav: Path, device: str | None) -> None:
    with MicrophoneSource(device, preferred_rate=MODEL_SAMPLE_RATE) as source:
        assert source.sample_rate == MODEL_SAMPLE_RATE  # the model's rate: the null sink's monitor offers it
        frames = record_tone(source, pulse, tone_wav)
    steady = frames[len(frames) // 5 :]  # past the onset
    assert steady.shape[1] == source.channels == 2
    assert np.isfinite(steady).all()
    for channel in steady.T:
        assert dominant_frequency(channel, source.sample_rate) == pytest.approx(TONE_HZ, abs=5)
        assert rms(channel) == pytest.approx(TONE_PEAK / np.sqrt(2), rel=0.1)


def test_unknown_device_lists_the_inputs(pulse: PulseServer) -> None:
    with pytest.raises(UnknownDeviceError, match=r"'no-such-microphone' is not an input .*'pulse'"):
        MicrophoneSource("no-such-microphone")
    with pytest.raises(UnknownDeviceError, match=r"999 is not an input .*'pulse'"):
        MicrophoneSource(999)


def test_lagging_consumer_is_told_what_it_lost(pulse: PulseServer) -> None:
    with MicrophoneSource(buffer_seconds=0.1) as source:
        chunks = watched(source)
        next(chunks)  # audio flows
        assert wait_until(lambda: source.dropped_frames > 0)  # not consuming: 0.1 s overflows
        reported = next(chunk.dropped_frames for chunk in chunks if chunk.dropped_frames)
    assert 0 < reported <= source.dropped_frames


def test_device_lost_delivers_buffered_audio_then_raises(doomed_pulse: PulseServer) -> None:
    source = MicrophoneSource("pulse")
    chunks = watched(source)
    next(chunks)  # audio flows
    assert wait_until(lambda: source.buffered_frames > 0)
    buffered_before_loss = source.buffered_frames
    doomed_pulse.stop()  # the audio server dies under the open stream
    delivered_after = 0
    with pytest.raises(DeviceLostError, match="'pulse' stopped delivering"):
        for chunk in chunks:
            delivered_after += len(chunk.samples)
    assert delivered_after >= buffered_before_loss
    assert not source.active


def test_close_from_another_thread_ends_iteration(pulse: PulseServer) -> None:
    source = MicrophoneSource()
    closer = threading.Thread(target=source.close)
    for _ in watched(source):
        if closer.ident is None:
            closer.start()
    closer.join()  # the loop ended by itself, without DeviceLostError
    assert not source.active


def test_devices_are_not_rescanned_under_an_open_stream(pulse: PulseServer) -> None:
    """Refreshing PortAudio's device list means re-initialising it, which ends every open
    stream: a microphone waiting for its lost device must not cut the others."""
    with MicrophoneSource("pulse") as source:
        assert not rescan_devices()
        before = source.buffered_frames
        assert wait_until(lambda: source.buffered_frames >= before + source.sample_rate // 4)  # still recording
        assert source.active
    assert rescan_devices()  # nothing open any more: the list is refreshed
    assert any(device.name == "pulse" for device in list_input_devices())


def test_ctrl_c_stops_the_stream(pulse: PulseServer) -> None:
    # Python's own Ctrl-C handler, as in the CLI process; an earlier test in this
    # process (asyncio, browser drivers) may have left another one installed.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        source = MicrophoneSource()
        with pytest.raises(KeyboardInterrupt):
            for index, _ in enumerate(watched(source)):
                if index == 0:
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        assert not source.active
    finally:
        signal.signal(signal.SIGINT, previous)


def test_no_device_at_all_says_what_to_do_instead(tmp_path: Path) -> None:
    """A process whose PulseAudio is nowhere and which has no sound card."""
    env = os.environ | {"XDG_RUNTIME_DIR": str(tmp_path), "PULSE_SERVER": "unix:/nonexistent"}
    script = (
        "from genrescope.stream.sources.capture import MicrophoneSource, NoInputDeviceError, list_input_devices\n"
        "if list_input_devices(): print('HAS DEVICES')\n"
        "else:\n"
        "    try: MicrophoneSource()\n"
        "    except NoInputDeviceError as error: print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    if "HAS DEVICES" in result.stdout:
        pytest.skip("this machine has a sound card, so 'no device' cannot be staged")
    assert result.stdout.strip() == "no audio input device found; try `genrescope file SONG.mp3`"


def test_overflow_size_comes_from_the_adc_clock() -> None:
    assert _frames_lost(10.1, 10.0, 44_100) == 4410
    assert _frames_lost(10.0, 0.0, 44_100) == 1  # no clock: still counted
    assert _frames_lost(10.0, 10.0, 44_100) == 1
