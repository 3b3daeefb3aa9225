"""A lock-free single-producer/single-consumer ring of audio frames.

The producer is a PortAudio callback running on the audio thread. Anything slow there
(allocating, waiting on a lock the reader holds, logging) makes PortAudio miss its
deadline and lose audio, so ``write`` only copies into storage allocated once up front
and then moves an index. When the reader falls behind and the ring is full, the frames
that do not fit are dropped — the newest ones, so what is buffered stays contiguous —
and counted: the loss is reported, never silent.

Where frames were lost matters as much as how many (the engine keeps stream time by
them), so every slot also records how many frames were lost just before the frame in
it. ``read`` never returns frames across such a gap, and ``gap_ahead`` says how many
frames were lost before the next frame ``read`` will return.

Thread safety comes from ownership, not locks: the write count, drop counters and slot
contents are written only by the producer, the read count only by the consumer. Each
side publishes its count after touching the slots, and a count is a single attribute
store, which the GIL makes atomic and ordered. A stale view of the other side's count
only makes the ring look fuller (producer) or emptier (consumer) than it is, never
corrupts it.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Fixed-capacity FIFO of float32 frames, ``[frames, channels]``."""

    def __init__(self, capacity_frames: int, channels: int) -> None:
        if capacity_frames <= 0 or channels <= 0:
            raise ValueError("capacity_frames and channels must be positive")
        self._frames = np.zeros((capacity_frames, channels), dtype=np.float32)
        self._gaps = np.zeros(capacity_frames, dtype=np.int64)  # frames lost before each slot
        self._capacity = capacity_frames
        self._write_count = 0  # producer-owned: frames ever stored
        self._read_count = 0  # consumer-owned: frames ever read
        self._dropped = 0  # producer-owned: frames ever lost
        self._pending_gap = 0  # producer-owned: lost since the last stored frame

    @property
    def available(self) -> int:
        """Frames stored and not yet read."""
        return self._write_count - self._read_count

    @property
    def dropped_frames(self) -> int:
        """Frames lost so far, in total: counted the moment they are lost."""
        return self._dropped

    @property
    def gap_ahead(self) -> int:
        """Frames lost just before the next frame ``read`` returns (0 when empty)."""
        if self.available == 0:
            return 0
        return int(self._gaps[self._read_count % self._capacity])

    def write(self, block: np.ndarray) -> None:
        """Store ``block`` ([frames, channels]); drop and count what does not fit.

        Producer side: called from the audio callback, so it only copies into the
        preallocated slots and updates counters.
        """
        frames = len(block)
        stored = min(frames, self._capacity - (self._write_count - self._read_count))
        if stored > 0:
            start = self._write_count % self._capacity
            head = min(stored, self._capacity - start)
            self._frames[start : start + head] = block[:head]
            self._frames[: stored - head] = block[head:stored]
            self._gaps[start : start + head] = 0
            self._gaps[: stored - head] = 0
            self._gaps[start] = self._pending_gap
            self._pending_gap = 0
            self._write_count += stored  # publish only after the slots are filled
        if stored < frames:
            self.mark_lost(frames - stored)

    def mark_lost(self, frames: int) -> None:
        """Record ``frames`` lost before the next write (producer side), e.g. frames
        the audio driver itself discarded."""
        self._pending_gap += frames
        self._dropped += frames

    def read(self, max_frames: int | None = None) -> np.ndarray:
        """Copy out up to ``max_frames`` of the oldest frames (all if None), stopping
        before the next gap so that the frames returned are contiguous in time.

        Consumer side. Returns ``[n, channels]``, possibly with n = 0.
        """
        start = self._read_count
        count = self._write_count - start
        if max_frames is not None:
            count = min(count, max_frames)
        slots = np.arange(start, start + count) % self._capacity
        gaps_after_first = np.flatnonzero(self._gaps[slots[1:]])
        if gaps_after_first.size:
            count = int(gaps_after_first[0]) + 1
            slots = slots[:count]
        out = self._frames[slots]  # fancy indexing copies
        self._read_count = start + count  # publish only after the copy
        return out
