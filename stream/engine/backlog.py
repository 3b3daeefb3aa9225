"""How much of a stream's audio may wait for the scheduler: a bound, held by its reader.

Every stream's reading thread puts its blocks into the scheduler's shared inbox, and each
tick takes everything there. When the machine cannot keep up (more streams than cores
can run, a loaded host) the inbox grew without end: 16 demo and 2 radio streams on two
busy cores took the server from 556 to 1,299 MB in 200 s, and every update came later
than the one before. So each stream may have at most ``MAX_BACKLOG_SECONDS`` of audio
waiting; past that its reader waits until the scheduler took some. The wait is pushed
back onto the source, where each kind already has an honest answer: a file or the demo
simply delivers later (nothing lost), a microphone's ring overflows and counts the
dropped frames, a radio station drops a client that stopped reading and the reconnect
counts the gap. Memory stays bounded, and no source reads more than the bound ahead of
its updates.

Why seconds, not blocks: sources deliver blocks of different lengths (a file 0.1 s, a
microphone whatever accumulated, HLS a whole segment at once).
"""

from __future__ import annotations

import threading

# Far above one tick's arrivals (≈117 ms), and above what a live source delivers at once
# (FFmpeg's probe after a reconnect, ≈3.5 s; an HLS segment enters over a few ticks), so
# a machine that keeps up never waits. Small, because an overloaded tick works on every
# stream's backlog at once and its FFT and mel temporaries grow with it: 200 streams on
# two cores held 2.7 GB at 12 s and 1.6 GB at 4 s (bench/README.md; at 4 s 14% fewer
# updates came through the overload). At 48 kHz stereo float32 it is ≈1.5 MB a stream.
MAX_BACKLOG_SECONDS = 4.0
POLL_SECONDS = 0.1  # how often a waiting reader looks whether the scheduler is stopping


class Backlog:
    """One stream's audio in the inbox, in seconds: raised by its reader, lowered by the
    scheduler as it takes blocks."""

    def __init__(self, limit_seconds: float = MAX_BACKLOG_SECONDS):
        self.limit_seconds = limit_seconds
        self._seconds = 0.0
        self._changed = threading.Condition()

    def reserve(self, seconds: float, stopping: threading.Event) -> bool:
        """Wait until the stream is under its limit, then count ``seconds`` in; whether it
        did (False: the scheduler is stopping). A block longer than the limit still goes,
        alone, so the bound is the limit plus one block."""
        with self._changed:
            while self._seconds > 0 and self._seconds + seconds > self.limit_seconds:
                if stopping.is_set():
                    return False
                self._changed.wait(POLL_SECONDS)
            self._seconds += seconds
            return True

    def release(self, seconds: float) -> None:
        """The scheduler took ``seconds`` of this stream's audio out of the inbox."""
        with self._changed:
            self._seconds = max(0.0, self._seconds - seconds)
            self._changed.notify_all()
