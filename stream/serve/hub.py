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

from genrescope.stream.engine.events import PROTOCOL_VERSION, history_text


class Subscriber:
    """One client's queue of pre-serialised messages, after its greeting."""

    def __init__(self, capacity: int, greeting: tuple[str, ...] = ()):
        if capacity < 1:
            raise ValueError(f"queue capacity must be at least 1, got {capacity}")
        self.greeting = greeting  # sent before the queue and never dropped: hello, history
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
    """Holds the stream's greeting, recent updates and end, and copies every message to
    all subscribers.

    A subscriber is greeted with the ``hello`` and a ``history`` of the recent updates,
    taken at the very moment it subscribes, so history and queue neither overlap nor
    leave a gap; one that joins after the stream ended finds the ``end`` already
    queued. Every client thus sees a complete conversation, and a dashboard opened (or
    reconnected) mid-stream draws its timeline at once.
    """

    def __init__(self, hello: str, capacity: int, history: int, version: int = PROTOCOL_VERSION):
        self.hello = hello
        self.version = version  # of the history message
        self.capacity = capacity
        self.end: str | None = None
        self.state: str | None = None  # the newest snapshot a client needs besides updates (segments)
        self.published = 0  # updates published so far
        self._recent: deque[str] = deque(maxlen=history)
        self._subscribers: set[Subscriber] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        """A new subscriber; from now on it receives every published message."""
        greeting = (self.hello, history_text(self._recent, self.version)) if self._recent else (self.hello,)
        subscriber = Subscriber(self.capacity, greeting + ((self.state,) if self.state is not None else ()))
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
        self._recent.append(update)
        self._broadcast(update)

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
