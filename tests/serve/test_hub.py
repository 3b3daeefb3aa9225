"""The fan-out queues: drop-oldest with counting, greetings, history, and the end."""

from __future__ import annotations

import asyncio
import json

import pytest

from genrescope.stream.serve.hub import Hub, Subscriber


def drain(subscriber: Subscriber) -> list[str]:
    """Everything queued for ``subscriber``, in order, without waiting."""

    async def take() -> list[str]:
        return [await subscriber.get() for _ in range(len(subscriber))]

    return asyncio.run(take())


def update(column: int) -> str:
    return json.dumps({"type": "update", "column": column})


def test_full_queue_drops_the_oldest_and_counts_it() -> None:
    subscriber = Subscriber(capacity=3)
    for i in range(5):
        subscriber.put(str(i))
    assert subscriber.dropped == 2
    assert drain(subscriber) == ["2", "3", "4"]


def test_slow_subscriber_does_not_cost_a_fast_one_anything() -> None:
    hub = Hub(hello="hello", capacity=2, history=0)
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(4):
        hub.publish(update(i))
        assert drain(fast) == [update(i)]
    assert (slow.dropped, fast.dropped) == (2, 0)
    assert drain(slow) == [update(2), update(3)]
    assert hub.published == 4


def test_a_joining_subscriber_is_greeted_with_the_recent_history_and_no_overlap() -> None:
    hub = Hub(hello="hello", capacity=8, history=3)
    assert hub.subscribe().greeting == ("hello",)  # nothing to replay yet
    for i in range(5):
        hub.publish(update(i))
    joined = hub.subscribe()
    hub.publish(update(5))
    hello, history = joined.greeting
    assert hello == "hello"
    assert json.loads(history) == {"type": "history", "v": 1, "updates": [json.loads(update(i)) for i in (2, 3, 4)]}
    assert drain(joined) == [update(5)]


def test_late_subscriber_finds_the_end_and_leavers_get_nothing() -> None:
    hub = Hub(hello="hello", capacity=4, history=4)
    leaver = hub.subscribe()
    hub.unsubscribe(leaver)
    hub.publish(update(0))
    hub.finish("end")
    late = hub.subscribe()
    assert len(hub) == 1 and hub.pending() == 1
    assert drain(late) == ["end"]
    assert len(leaver) == 0


def test_get_waits_for_a_message() -> None:
    async def scenario() -> str:
        subscriber = Subscriber(capacity=1)
        asyncio.get_running_loop().call_later(0.01, subscriber.put, "late")
        return await subscriber.get()

    assert asyncio.run(scenario()) == "late"


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Subscriber(capacity=0)
