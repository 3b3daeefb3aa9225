"""Counting a network stream's gaps honestly: delivered audio plus gaps never exceeds wall time.

After a reconnect FFmpeg first probes the new connection, holding back the audio it
reads meanwhile, then hands it over in a burst. Measuring a gap as "the wall time from
the last block before the break to the first block after it" counts that probe time as
missing and then delivers its audio as well (45 s of a station dropping every 6 s once
gave 37.8 s of audio plus 26.7 s of gaps).

So a gap is settled only once the source has *caught up*: a block that had to wait for
the network (at least half a block's time) proves that no decoded audio was waiting
behind it, so everything received so far has been delivered. At that moment the wall
time since the stream's clock started, less the audio delivered and the gaps already
counted, is the audio the break cost; it is never negative. The stream's clock starts at
its first caught-up block (``origin``: when its audio would have started at 1× speed),
so the first connection's probe and burst never count either.
"""

from __future__ import annotations


class GapLedger:
    """Delivered audio and counted gaps of one stream, in seconds, against the wall clock."""

    def __init__(self, block_seconds: float):
        self.caught_up_wait = block_seconds / 2  # a block that waited this long found nothing decoded ahead
        self.audio_seconds = 0.0
        self.gap_seconds = 0.0
        self.origin: float | None = None  # monotonic time the stream's audio began, at 1× speed
        self.broken = False  # a connection broke since the last settled gap

    def break_off(self) -> None:
        """A connection ended; its gap is settled at the next caught-up block."""
        self.broken = True

    def block(self, seconds: float, waited: float, now: float) -> float | None:
        """A block of ``seconds`` that took ``waited`` s to come, delivered at ``now``.
        The gap it settles (seconds, possibly 0.0), or None when it settles none."""
        self.audio_seconds += seconds
        if waited < self.caught_up_wait:
            return None  # part of a burst: audio that was already here
        settles, self.broken = self.broken, False
        if self.origin is None:  # a break before the clock started is counted, its length unknown: 0 s
            self.origin = now - self.audio_seconds
            return 0.0 if settles else None
        if not settles:
            return None
        gap = max(0.0, now - self.origin - self.audio_seconds - self.gap_seconds)
        self.gap_seconds += gap
        return gap
