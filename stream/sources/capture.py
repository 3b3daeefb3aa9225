"""Live audio from an input device: PortAudio callback → RingBuffer → AudioChunks.

PortAudio calls back on its own thread with a fixed deadline, so the callback only
copies the block into a preallocated ring (see ringbuffer.py); the consumer iterates
over what has accumulated at its own pace. Losses on the way — the driver overflowing,
or the ring filling because the consumer lagged — are counted into
``AudioChunk.dropped_frames`` rather than hidden.

Every failure a user can cause or meet (no device, a wrong name, the device going away)
is a ``CaptureError`` whose message is one line the CLI can print as is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.ringbuffer import RingBuffer

MAX_CHANNELS = 2  # the engine down-mixes; a stereo pair is all a mono model needs

# PortAudio is one library state per process: streams must not open or close while it
# re-initialises, and re-initialising ends every open stream. Both are guarded here.
_PORTAUDIO_LOCK = threading.Lock()
_open_inputs = 0  # input streams open in this process (under the lock)


class CaptureError(Exception):
    """A capture problem, reported to the user as its one-line message."""


class NoInputDeviceError(CaptureError):
    def __init__(self) -> None:
        super().__init__("no audio input device found; try `genrescope file SONG.mp3`")


class UnknownDeviceError(CaptureError):
    """The requested device does not exist (or is ambiguous); the message lists inputs."""


class DeviceLostError(CaptureError):
    """The device stopped delivering mid-stream (unplugged, audio server gone)."""


@dataclass(frozen=True)
class InputDevice:
    """One PortAudio device that can record."""

    index: int
    name: str
    channels: int  # maximum input channels
    default_sample_rate: int
    host_api: str
    is_default: bool


def _sounddevice() -> ModuleType:
    """Import sounddevice on first use: it loads the PortAudio shared library, which
    file-only use of genrescope must not need."""
    try:
        import sounddevice
    except OSError as exc:  # raised when libportaudio is not installed
        raise CaptureError(f"PortAudio is unavailable ({exc}); install libportaudio2") from exc
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """Every device PortAudio can record from, in PortAudio's index order."""
    sd = _sounddevice()
    default_index = sd.default.device[0]
    host_apis = sd.query_hostapis()
    return [
        InputDevice(
            index=index,
            name=info["name"],
            channels=info["max_input_channels"],
            default_sample_rate=round(info["default_samplerate"]),
            host_api=host_apis[info["hostapi"]]["name"],
            is_default=index == default_index,
        )
        for index, info in enumerate(sd.query_devices())
        if info["max_input_channels"] > 0
    ]


def format_devices(devices: list[InputDevice]) -> str:
    """The `genrescope devices` listing: one row per input, `*` marks the default."""
    if not devices:
        return str(NoInputDeviceError())
    width = max(len("name"), *(len(d.name) for d in devices))
    rows = [f"    {'#':>3}  {'name':<{width}}  {'ch':>3}  {'rate':>6}  host API"]
    for d in devices:
        mark = "*" if d.is_default else " "
        rows.append(
            f"  {mark} {d.index:>3}  {d.name:<{width}}  {d.channels:>3}  {d.default_sample_rate:>6}  {d.host_api}"
        )
    return "\n".join(rows)


def _inputs_named(devices: list[InputDevice]) -> str:
    return ", ".join(f"{d.index} '{d.name}'" for d in devices)


def resolve_device(device: str | int | None, devices: list[InputDevice]) -> InputDevice:
    """Pick an input by index, by (case-insensitive, unambiguous) part of its name, or
    the default for None."""
    if not devices:
        raise NoInputDeviceError
    if device is None:
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(device, int) or device.strip().isdigit():
        found = [d for d in devices if d.index == int(device)]
    else:
        wanted = device.strip().lower()
        found = [d for d in devices if d.name.lower() == wanted] or [d for d in devices if wanted in d.name.lower()]
    if len(found) == 1:
        return found[0]
    problem = "matches several inputs" if found else "is not an input device"
    raise UnknownDeviceError(f"audio input {device!r} {problem}; inputs are: {_inputs_named(found or devices)}")


def _choose_sample_rate(device: InputDevice, channels: int, requested: int | None, preferred: int | None) -> int:
    """The requested rate, else the preferred one (the loaded model's: no resampling) when
    the device supports it, else the device's default."""
    sd = _sounddevice()
    candidates = (requested,) if requested else tuple(r for r in (preferred, device.default_sample_rate) if r)
    for rate in candidates:
        try:
            sd.check_input_settings(device=device.index, channels=channels, samplerate=rate)
            return rate
        except sd.PortAudioError as exc:
            error = exc
    raise CaptureError(f"audio input '{device.name}' cannot record at {rate} Hz: {error}")


def _frames_lost(adc_time: float, expected_adc_time: float, sample_rate: int) -> int:
    """Size of an input overflow, which PortAudio flags but does not measure.

    The jump of the ADC clock past where the previous block ended estimates it. With no
    usable clock (host APIs that report 0, or the first block) count one frame: a loss
    is never reported as none.
    """
    if expected_adc_time <= 0 or adc_time <= expected_adc_time:
        return 1
    return max(1, round((adc_time - expected_adc_time) * sample_rate))


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in the process environment while a stream opens: the audio server's
    client library (libpulse under ALSA's pulse plugin) reads it when it connects, so
    one stream's PULSE_SOURCE never leaks into another's. Callers hold the PortAudio lock."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def rescan_devices() -> bool:
    """Make PortAudio enumerate devices again: it lists them once, when it starts, so a
    device plugged in later is otherwise never seen. That means terminating PortAudio,
    which would end every open stream, so it is done only while no input is open (one
    lost microphone must not cut the others); returns whether it was done."""
    with _PORTAUDIO_LOCK:
        if _open_inputs:
            return False
        sd = _sounddevice()
        sd._terminate()
        sd._initialize()
        return True


class MicrophoneSource:
    """A live input as an iterable of ``AudioChunk``s; also a context manager.

    The device and rate are settled on construction, so a wrong name fails before any
    stream opens. Iterating starts the stream, blocks briefly (sleeping, half a block at
    a time) while no audio is buffered, and ends when ``close()`` is called, from any
    thread. If the device goes away, the audio captured before that is delivered first,
    then ``DeviceLostError`` is raised. ``sample_rate`` insists on a rate;
    ``preferred_rate`` (the loaded model's) is taken when the device offers it.
    """

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int | None = None,
        block_seconds: float = 0.02,
        buffer_seconds: float = 10.0,
        preferred_rate: int | None = None,
        environment: Mapping[str, str] | None = None,
        label: str = "microphone",
    ) -> None:
        self.device = resolve_device(device, list_input_devices())
        self.environment = dict(environment or {})  # set while the stream opens (PULSE_SOURCE)
        self.label = label
        self.channels = min(MAX_CHANNELS, self.device.channels)
        self.sample_rate = _choose_sample_rate(self.device, self.channels, sample_rate, preferred_rate)
        self._block_frames = max(1, round(self.sample_rate * block_seconds))
        self._poll_seconds = self._block_frames / self.sample_rate / 2
        capacity = max(self._block_frames, round(self.sample_rate * buffer_seconds))
        self._ring = RingBuffer(capacity, self.channels)
        self._stream: Any = None  # sounddevice.InputStream once started
        self._expected_adc_time = 0.0  # where the previous block ended, callback-owned
        self._closed = False
        self._lost = False

    @property
    def name(self) -> str:
        """What the stream is, for the hello message and the terminal view."""
        return f"{self.label}: {self.device.name} ({self.sample_rate} Hz, {self.channels} ch)"

    @property
    def dropped_frames(self) -> int:
        """Frames lost so far (driver overflows and ring overruns)."""
        return self._ring.dropped_frames

    @property
    def active(self) -> bool:
        """True while PortAudio is running the stream and delivering audio."""
        return self._stream is not None and not self._stream.closed and self._stream.active

    @property
    def buffered_frames(self) -> int:
        """Frames captured and not yet delivered: how far the consumer lags."""
        return self._ring.available

    def start(self) -> None:
        """Open and start the PortAudio stream (once)."""
        global _open_inputs
        sd = _sounddevice()
        with _PORTAUDIO_LOCK:
            if self._stream is None and not self._closed:
                with _environment(self.environment):
                    self._stream = self._open_stream(sd)
                _open_inputs += 1

    def _open_stream(self, sd: ModuleType) -> Any:
        """A started InputStream feeding the ring; a failure closes the source."""
        stream = None
        try:
            stream = sd.InputStream(
                device=self.device.index,
                channels=self.channels,
                samplerate=self.sample_rate,
                blocksize=self._block_frames,
                dtype="float32",
                callback=self._on_audio,
                finished_callback=self._on_finished,
            )
            stream.start()
        except sd.PortAudioError as exc:
            if stream is not None:
                stream.close(ignore_errors=True)
            self._closed = True
            raise CaptureError(f"cannot open audio input '{self.device.name}': {exc}") from exc
        return stream

    def close(self) -> None:
        """Stop capturing; any iteration ends. Safe to call twice or from another thread."""
        global _open_inputs
        self._closed = True  # first, so the stream's end is not taken for a lost device
        with _PORTAUDIO_LOCK:
            if self._stream is not None and not self._stream.closed:
                self._stream.close(ignore_errors=True)
                _open_inputs -= 1

    def __enter__(self) -> MicrophoneSource:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[AudioChunk]:
        self.start()
        try:
            while not self._closed:
                lost = self._lost  # read before draining: nothing is written after it
                gap = self._ring.gap_ahead
                frames = self._ring.read()
                if len(frames):
                    yield AudioChunk(frames, self.sample_rate, dropped_frames=gap)
                elif lost:
                    raise DeviceLostError(
                        f"audio input '{self.device.name}' stopped delivering audio "
                        "(unplugged, or the audio server went away)"
                    )
                else:
                    time.sleep(self._poll_seconds)
        finally:
            self.close()

    def _on_audio(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio callback (audio thread): note driver losses, copy the block in."""
        adc_time = time_info.inputBufferAdcTime
        if status.input_overflow:
            lost = _frames_lost(adc_time, self._expected_adc_time, self.sample_rate)
            self._ring.mark_lost(lost)
        self._expected_adc_time = adc_time + frames / self.sample_rate
        self._ring.write(indata)

    def _on_finished(self) -> None:
        """PortAudio's end-of-stream callback: an end nobody asked for is a lost device."""
        if not self._closed:
            self._lost = True
