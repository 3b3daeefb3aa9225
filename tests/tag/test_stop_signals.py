"""Stop signals held across a block that must finish whole (stream/tag/stop_signals.py):
SIGINT and SIGTERM alike, delivered once when the outermost guard ends. The file change
they guard is tested in tests/test_outputs.py."""

import os
import signal

import pytest

from genrescope.stream.tag.stop_signals import stop_signals_held


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_stop_signals_are_held_to_the_end_of_the_block(number):
    arrived = []
    previous = signal.signal(number, lambda n, frame: arrived.append(n))
    try:
        with stop_signals_held():
            os.kill(os.getpid(), number)
            with stop_signals_held():  # nested: handed to the outer guard
                os.kill(os.getpid(), number)
            assert arrived == []
        assert arrived == [number]  # delivered once, when the outer block ended
    finally:
        signal.signal(number, previous)
