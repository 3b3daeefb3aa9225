"""A live input that survives its device going away: wait, reopen, resume, count the gap.

Monitoring runs for days, and devices come and go: a USB interface is unplugged and
plugged back, an audio server restarts, a sink is reloaded. ``MicrophoneSource`` ends
with ``DeviceLostError`` when that happens (after delivering what it had buffered);
this wrapper then waits for the same device — or, when none was named, for whatever
the system default is by then — opens it again and goes on. The time without audio is
not hidden: it is added to the next chunk's ``dropped_frames`` (so the engine's dropped
count and every update's stats include it) and kept in ``gaps`` / ``gap_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

from genrescope.stream.sources.capture import (
    CaptureError,
    DeviceLostError,
    MicrophoneSource,
    NoInputDeviceError,
    UnknownDeviceError,
    rescan_devices,
)
from genrescope.stream.sources.chunk import AudioChunk

log = logging.getLogger("genrescope.capture")

RETRY_SECONDS = 1.0  # how often a lost device is looked for


class ReconnectingMicrophone:
    """A ``MicrophoneSource`` that outlives its device; same iteration and context use.

    The first open happens on construction, so a wrong name or no device at all still
    fails at once. ``open_source`` is the factory (tests may pass their own); ``close()``
    from any thread ends the iteration, also while waiting for the device. ``state`` is
    ``live`` or ``reconnecting`` (while the device is away), as a network stream's, and
    ``on_state`` (optional) hears every change, so the multi-stream server shows it.
    """

    def __init__(
        self,
        device: str | int | None = None,
        retry_seconds: float = RETRY_SECONDS,
        open_source: Callable[[str | int | None], MicrophoneSource] = MicrophoneSource,
    ):
        self.device = device
        self.retry_seconds = retry_seconds
        self._open = open_source
        self.current = open_source(device)
        self.gaps = 0  # times the device went away and came back
        self.gap_seconds = 0.0  # total time without audio because of that
        self.waiting = False  # True while the device is away
        self.on_state: Callable[[ReconnectingMicrophone], None] | None = None
        self._closed = threading.Event()
        self._told_no_rescan = False  # said why the device list is not refreshed (once per wait)

    @property
    def name(self) -> str:
        return self.current.name

    @property
    def dropped_frames(self) -> int:
        return self.current.dropped_frames

    @property
    def state(self) -> str:
        return "reconnecting" if self.waiting else "live"

    def close(self) -> None:
        self._closed.set()
        self.current.close()

    def __enter__(self) -> ReconnectingMicrophone:
        self.current.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[AudioChunk]:
        gap_frames = 0
        try:
            while not self._closed.is_set():
                try:
                    for chunk in self.current:
                        if gap_frames:
                            chunk = AudioChunk(chunk.samples, chunk.sample_rate, chunk.dropped_frames + gap_frames)
                            gap_frames = 0
                        yield chunk
                    return  # closed on purpose
                except DeviceLostError as lost:
                    gap_frames += self._wait_for_device(lost)
        finally:
            self.close()

    def _wait_for_device(self, lost: DeviceLostError) -> int:
        """Reopen the device once it is back; the frames missed meanwhile (0 if closed)."""
        started = time.monotonic()
        self._told_no_rescan = False
        self._set_waiting(True)
        log.warning("%s; waiting for it to come back", lost)
        while not self._closed.wait(self.retry_seconds):
            try:
                self.current = self._open(self.device)
            except (UnknownDeviceError, NoInputDeviceError):
                if not rescan_devices():  # gone from PortAudio's list: look again next time
                    self._note_no_rescan()
                continue
            except CaptureError:
                continue  # listed, but not recording yet
            if self._closed.is_set():  # closed while it opened
                self.current.close()
                break
            gap = time.monotonic() - started
            self.gaps += 1
            self.gap_seconds += gap
            log.warning("%s is back after %.1f s; the gap is counted as dropped audio", self.current.name, gap)
            self._set_waiting(False)
            return round(gap * self.current.sample_rate)
        self.waiting = False
        return 0

    def _note_no_rescan(self) -> None:
        """Say once per wait why a device that returns under a new name is not seen yet."""
        if not self._told_no_rescan:
            self._told_no_rescan = True
            log.warning(
                "%s: other inputs are open, so PortAudio's device list is not refreshed; a device it "
                "still lists is reopened, one it lists anew is seen once the others close",
                self.current.name,
            )

    def _set_waiting(self, waiting: bool) -> None:
        self.waiting = waiting
        if self.on_state is not None:
            self.on_state(self)
