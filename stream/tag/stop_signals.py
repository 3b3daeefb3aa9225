"""Stop requests (Ctrl-C and SIGTERM alike) held off while a block must finish whole.

A write into a user's file and the store row that records it must both happen or
neither; a stop that lands between them, or inside the write, would leave them out of
step (or, before writes went through a copy, a half-moved file). ``stop_signals_held``
records a stop that arrives during its block and acts on it the moment the block ends,
exactly as the process would have acted on it then. Guards nest: an inner one hands a
held stop to the outer one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# What a user or a service manager sends to stop a run: Ctrl-C, `kill`, `systemctl stop`.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would raise KeyboardInterrupt, so that a run stops as
    cleanly for a service manager as for a user (see ``sigterm_stops_cleanly``)."""


@contextmanager
def stop_signals_held() -> Iterator[None]:
    """Run the block with SIGINT and SIGTERM held; a held one is delivered when it ends.

    Signal handlers belong to the main thread: elsewhere the block runs unguarded (the
    main thread is the one a signal interrupts)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {number: signal.signal(number, lambda number, frame: held.append(number)) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        for number in dict.fromkeys(held):
            signal.raise_signal(number)


def _raise_terminated(number: int, frame: object) -> None:
    raise Terminated


@contextmanager
def sigterm_stops_cleanly() -> Iterator[None]:
    """Within the block SIGTERM raises ``Terminated`` (a KeyboardInterrupt) instead of
    ending the process on the spot, so every cleanup a Ctrl-C gets runs for it too."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def stop_status(error: KeyboardInterrupt) -> int:
    """The exit status of a run stopped by ``error``: 128 + the signal's number."""
    return 128 + (signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT)
