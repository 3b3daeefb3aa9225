"""Fan-out of one message stream to many subscribers, each with its own bounded queue.

The engine must never wait for a client, and a stalled client must never delay the
others: every subscriber gets a fixed-size queue that drops its *oldest* message when
full (a live view wants the newest state, not a backlog), and counts what it dropped so
the loss is reported instead of hidden. Everything here runs on the event loop thread;
the engine thread reaches it only through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Subscriber:
    """One client's queue of pre-serialised messages."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"queue capacity must be at least 1, got {capacity}")
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

    async def get(self) -> str:
        """The oldest queued message, waiting for one if the queue is empty."""
        while not self._messages:
            self._ready.clear()
            await self._ready.wait()
        return self._messages.popleft()


class Hub:
    """Holds the stream's greeting and end, and copies every message to all subscribers.

    The connection sends ``hello`` itself before draining its queue, so the greeting can
    never be evicted; a subscriber that joins after the stream ended finds the ``end``
    already queued, so every client sees a complete conversation.
    """

    def __init__(self, hello: str, capacity: int):
        self.hello = hello
        self.capacity = capacity
        self.end: str | None = None
        self.published = 0  # messages published so far, for logs and benchmarks
        self._subscribers: set[Subscriber] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        """A new subscriber; from now on it receives every published message."""
        subscriber = Subscriber(self.capacity)
        if self.end is not None:
            subscriber.put(self.end)
        self._subscribers.add(subscriber)
        return subscriber

    def pending(self) -> int:
        """Messages queued but not yet taken, over all subscribers."""
        return sum(len(subscriber) for subscriber in self._subscribers)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, text: str) -> None:
        """Queue ``text`` for every subscriber; never blocks."""
        self.published += 1
        for subscriber in self._subscribers:
            subscriber.put(text)

    def finish(self, end: str) -> None:
        """Publish the stream's last message and keep it for late subscribers."""
        self.end = end
        self.publish(end)
