"""RingBuffer: order, wrap-around, and that every lost frame is counted where it was lost."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from genrescope.stream.sources.ringbuffer import RingBuffer


def ramp(start: int, stop: int, channels: int = 2) -> np.ndarray:
    """Frames numbered start..stop-1; channel c holds the number times (c + 1)."""
    numbers = np.arange(start, stop, dtype=np.float32)[:, None]
    return numbers * np.arange(1, channels + 1, dtype=np.float32)


def test_reads_back_in_order_across_the_wrap() -> None:
    ring = RingBuffer(8, 2)
    ring.write(ramp(0, 5))
    np.testing.assert_array_equal(ring.read(3), ramp(0, 3))
    ring.write(ramp(5, 11))  # slots 5, 6, 7 then 0, 1, 2
    assert ring.available == 8
    np.testing.assert_array_equal(ring.read(), ramp(3, 11))
    assert ring.available == 0
    assert ring.dropped_frames == 0
    assert ring.read().shape == (0, 2)


def test_full_ring_drops_the_frames_that_do_not_fit_and_counts_them() -> None:
    ring = RingBuffer(4, 2)
    ring.write(ramp(0, 6))
    assert ring.dropped_frames == 2
    assert ring.gap_ahead == 0  # the loss comes after what is stored
    np.testing.assert_array_equal(ring.read(), ramp(0, 4))
    ring.write(ramp(6, 9))
    assert ring.gap_ahead == 2  # frames 4 and 5 never made it
    np.testing.assert_array_equal(ring.read(), ramp(6, 9))
    assert ring.gap_ahead == 0


def test_read_stops_before_a_gap() -> None:
    ring = RingBuffer(4, 1)
    ring.write(ramp(0, 4, 1))
    ring.write(ramp(4, 6, 1))  # full: 4 and 5 lost
    np.testing.assert_array_equal(ring.read(2), ramp(0, 2, 1))
    ring.write(ramp(6, 8, 1))  # stored after the gap
    np.testing.assert_array_equal(ring.read(), ramp(2, 4, 1))
    assert ring.gap_ahead == 2
    np.testing.assert_array_equal(ring.read(), ramp(6, 8, 1))


def test_mark_lost_places_a_gap_before_the_next_write() -> None:
    ring = RingBuffer(16, 1)
    ring.write(ramp(0, 3, 1))
    ring.mark_lost(5)
    ring.write(ramp(8, 10, 1))
    assert ring.dropped_frames == 5
    np.testing.assert_array_equal(ring.read(), ramp(0, 3, 1))
    assert ring.gap_ahead == 5
    np.testing.assert_array_equal(ring.read(), ramp(8, 10, 1))


def test_rejects_empty_geometry() -> None:
    with pytest.raises(ValueError):
        RingBuffer(0, 2)


def test_concurrent_writer_and_slow_reader_lose_nothing_silently() -> None:
    """A writer thread pushes a numbered ramp in uneven blocks into a small ring; the
    reader reads uneven amounts and now and then stalls until the ring is full, so
    frames are really lost. Every frame must arrive in order or be counted as lost
    exactly where it was lost."""
    total, capacity = 200_000, 64
    ring = RingBuffer(capacity, 2)
    rng = np.random.default_rng(0)
    block_sizes = rng.integers(1, 48, size=total)  # more than enough blocks
    writer_done = threading.Event()

    def writer() -> None:
        start = 0
        for size in block_sizes:
            stop = min(start + int(size), total)
            ring.write(ramp(start, stop))
            start = stop
            if start == total:
                break
        writer_done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    expected_next, received, stalls, reads = 0, 0, 0, 0
    while not (writer_done.is_set() and ring.available == 0):
        reads += 1
        if reads == 1 or reads % 200 == 0:  # stall until the writer has to drop (at least once)
            while ring.available < capacity and not writer_done.is_set():
                time.sleep(0.0001)
            stalls += 1
        gap = ring.gap_ahead
        frames = ring.read(int(rng.integers(1, 80)))
        if len(frames) == 0:
            time.sleep(0.0001)
            continue
        expected_next += gap
        np.testing.assert_array_equal(frames, ramp(expected_next, expected_next + len(frames)))
        expected_next += len(frames)
        received += len(frames)
    thread.join()

    assert stalls > 0
    assert ring.dropped_frames > 0
    assert received + ring.dropped_frames == total
