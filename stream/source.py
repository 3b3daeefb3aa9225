"""The unit of audio every source yields and the engine consumes, and the sources by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np

# A network stream with no data for this long has stalled: the source reconnects and
# counts the gap (``serve --stall-seconds``). Long enough for a slow server's hiccup.
STALL_SECONDS = 10.0


@dataclass(frozen=True)
class AudioChunk:
    """A block of audio as it arrived: any rate, any channel count.

    ``dropped_frames`` counts frames lost *before* this chunk since the previous one
    (capture overruns), so the engine can report losses instead of hiding them.
    """

    samples: np.ndarray  # float32 [frames, channels]
    sample_rate: int
    dropped_frames: int = 0

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise ValueError(f"samples must be [frames, channels], got shape {self.samples.shape}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {self.sample_rate}")

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def open_source(spec: str, realtime: bool = False, device: str | int | None = None,
                sample_rate: int | None = None) -> Iterable[AudioChunk]:
    """The source a user names: ``demo`` (a synthesised loop), ``mic`` or ``mic:DEVICE``
    (an input device; a context manager that releases it), or an audio file path (write
    ``./mic`` for a file named mic). ``realtime`` paces files like a live source;
    ``sample_rate`` (the engine's model rate, ``engine.spec.sample_rate``) is what a
    device records at when it can, sparing a resampler."""
    if spec == "demo":
        from genrescope.stream.demo import DemoSource

        return DemoSource(realtime=True)
    if spec == "mic" or spec.startswith("mic:"):
        from genrescope.stream.capture import MicrophoneSource
        from genrescope.stream.reconnect import ReconnectingMicrophone

        # waits out an unplugged device; captures at the model's rate where the device offers it
        return ReconnectingMicrophone(spec.partition(":")[2] or device,
                                      open_source=partial(MicrophoneSource, preferred_rate=sample_rate))
    from genrescope.stream.filesource import FileSource

    return FileSource(spec, realtime=realtime)
