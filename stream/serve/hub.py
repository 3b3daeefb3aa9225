"""Fan-out of one message stream to many subscribers, each with its own bounded queue.

The engine must never wait for a client, and a stalled client must never delay the
others: every subscriber gets a fixed-size queue that drops its *oldest* message when
full (a live view wants the newest state, not a backlog), and counts what it dropped so
the loss is reported instead of hidden. Everything here runs on the event loop thread;
the engine thread reaches it only through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from genrescope.stream.engine.events import history_text, lag_message, v1_envelope

# A joining client's history stays below what a websocket client accepts by default
# (max_size 1 MiB, as the websockets library and browsers' common proxies set it),
# however many streams share the hub: the oldest updates give way. Messages are ASCII
# JSON (json.dumps escapes the rest), so characters are bytes.
HISTORY_BYTES = 1024 * 1024 - 4096  # less room for the history's own envelope


class Subscriber:
    """One client's queue of pre-serialised messages, after its greeting."""

    def __init__(self, capacity: int, greeting: tuple[str, ...] = (), envelope: dict[str, Any] | None = None):
        if capacity < 1:
            raise ValueError(f"queue capacity must be at least 1, got {capacity}")
        self.greeting = greeting  # sent before the queue and never dropped: hello, history
        self.envelope = envelope or v1_envelope()  # of the conversation's messages: version (and stream)
        self._messages: deque[str] = deque(maxlen=capacity)
        self._ready = asyncio.Event()
        self.dropped = 0  # messages evicted unread since the subscriber joined

    def __len__(self) -> int:
        return len(self._messages)

    def put(self, text: str) -> None:
        """Queue ``text``, evicting (and counting) the oldest message when full."""
        if len(self._messages) == self._messages.maxlen:
            self.dropped += 1
        self._messages.append(text)
        self._ready.set()

    def lag_text(self) -> str:
        """The ``lag`` notice for what was dropped so far, in this conversation's version."""
        return json.dumps(lag_message(self.dropped, self.envelope), separators=(",", ":"))

    async def get(self) -> str:
        """The oldest queued message, waiting for one if the queue is empty."""
        while not self._messages:
            self._ready.clear()
            await self._ready.wait()
        return self._messages.popleft()


class Hub:
    """Holds the stream's greeting, recent updates and end, and copies every message to
    all subscribers.

    A subscriber is greeted with the ``hello`` and a ``history`` of the recent updates,
    taken at the very moment it subscribes, so history and queue neither overlap nor
    leave a gap; one that joins after the stream ended finds the ``end`` already
    queued. Every client thus sees a complete conversation, and a dashboard opened (or
    reconnected) mid-stream draws its timeline at once.
    """

    def __init__(
        self,
        hello: str,
        capacity: int,
        history: int,
        envelope: dict[str, Any] | None = None,
        history_bytes: int = HISTORY_BYTES,
    ):
        self.hello = hello
        self.envelope = envelope or v1_envelope()  # of the history and lag messages: version (and stream)
        self.capacity = capacity
        self.history_bytes = history_bytes
        self.end: str | None = None
        self.state: str | None = None  # the newest snapshot a client needs besides updates (segments)
        self.published = 0  # updates published so far
        self._recent: deque[str] = deque(maxlen=history)
        self._recent_bytes = 0  # of the recent updates, with the commas between them
        self._subscribers: set[Subscriber] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        """A new subscriber; from now on it receives every published message."""
        greeting = (self.hello, history_text(self._recent, self.envelope)) if self._recent else (self.hello,)
        subscriber = Subscriber(
            self.capacity, greeting + ((self.state,) if self.state is not None else ()), self.envelope
        )
        if self.end is not None:
            subscriber.put(self.end)
        self._subscribers.add(subscriber)
        return subscriber

    def pending(self) -> int:
        """Messages queued but not yet taken, over all subscribers."""
        return sum(len(subscriber) for subscriber in self._subscribers)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, update: str) -> None:
        """Queue an update for every subscriber and remember it; never blocks."""
        self.published += 1
        self._remember(update)
        self._broadcast(update)

    def _remember(self, update: str) -> None:
        """Keep ``update`` for the history, within its count and its bytes."""
        if self._recent.maxlen == 0:
            return
        if len(self._recent) == self._recent.maxlen:
            self._recent_bytes -= len(self._recent[0]) + 1
        self._recent.append(update)
        self._recent_bytes += len(update) + 1
        while self._recent_bytes > self.history_bytes:
            self._recent_bytes -= len(self._recent.popleft()) + 1

    def finish(self, end: str) -> None:
        """Publish the stream's last message and keep it for late subscribers."""
        self.end = end
        self._broadcast(end)

    def announce(self, text: str, hello: str) -> None:
        """Send ``text`` to every subscriber now (not into the history) and greet later
        ones with ``hello``: a stream's state changed, and a client that joins later
        needs the newest state, not the change."""
        self.hello = hello
        self._broadcast(text)

    def share(self, snapshot: str) -> None:
        """Send a snapshot (the ``segments`` message: complete, so only the newest matters)
        to every subscriber now, and greet later ones with it after the history."""
        self.state = snapshot
        self._broadcast(snapshot)

    def _broadcast(self, text: str) -> None:
        for subscriber in self._subscribers:
            subscriber.put(text)
