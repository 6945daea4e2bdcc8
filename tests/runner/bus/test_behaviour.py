"""The behaviour every bus backend shares (each test runs on the embedded broker and RabbitMQ)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from runner.bus import (
    ACK,
    DEAD_QUEUE_HEADER,
    DEAD_REASON_HEADER,
    RETRIES_HEADER,
    Bus,
    BusError,
    Message,
    OutMessage,
    Reject,
    Requeue,
    Topology,
    dead_letter_queue,
    feed_binding,
    feed_target,
)
from runner.bus.api import Disposition

from .conftest import Consumer, Names, collect, declare


def test_a_message_round_trips_with_body_headers_and_message_id(bus: Bus, names: Names) -> None:
    queue = names("in")
    declare(bus, queue)
    headers = {"system": "eco_env", "count": 7, "empty": None, "text": "执法"}
    bus.publish(queue, [OutMessage(b"\x00<xml/>\xff", headers, "msg-1")])

    [message] = collect(bus, queue, 1)

    assert message.body == b"\x00<xml/>\xff"
    assert message.headers == headers
    assert message.message_id == "msg-1"
    assert message.queue == queue
    assert message.redelivered is False
    assert bus.depth(queue) == 0


def test_a_batch_of_500_is_delivered_exactly_once_in_bounded_batches(
    bus: Bus, names: Names
) -> None:
    queue = names("batch")
    declare(bus, queue)
    bus.publish(queue, [OutMessage(b"x" * 1024, message_id=f"m{i}") for i in range(500)])
    assert bus.depth(queue) == 500
    sizes: list[int] = []

    got = collect(bus, queue, 500, batch_size=64, batches=sizes)

    assert sorted(m.message_id or "" for m in got) == sorted(f"m{i}" for i in range(500))
    assert max(sizes) <= 64
    assert len(sizes) < 500 / 8, "messages should arrive in batches, not one by one"
    assert not any(m.redelivered for m in got)
    assert bus.depth(queue) == 0


def test_a_feed_reaches_every_bound_queue_and_nothing_else(bus: Bus, names: Names) -> None:
    penalties, everything, cases = names("penalties"), names("all"), names("cases")
    domain = names.prefix  # the feed exchange is shared with whoever else uses the broker
    feed = f"{domain}.penalty_decision.v1"
    declare(bus, penalties, everything, cases)
    bus.declare(
        Topology(
            bindings=(
                feed_binding(feed, penalties),
                feed_binding(f"{domain}.#", everything),
                feed_binding(f"{domain}.case.*", cases),
            )
        )
    )

    bus.publish(feed_target(feed), [OutMessage(b"p", message_id="p1")])
    bus.publish(feed_target(f"{domain}x.nobody.listens"), [OutMessage(b"lost on purpose")])

    assert [m.message_id for m in collect(bus, penalties, 1)] == ["p1"]
    assert [m.message_id for m in collect(bus, everything, 1)] == ["p1"]
    assert bus.depth(cases) == 0


def test_publish_many_stores_every_target_s_messages_in_order(bus: Bus, names: Names) -> None:
    first, second = names("first"), names("second")
    domain = names.prefix
    feed = f"{domain}.penalty_decision.v1"
    declare(bus, first, second)
    bus.declare(Topology(bindings=(feed_binding(feed, second),)))

    bus.publish_many(
        {
            first: [OutMessage(b"a", message_id=f"a{i}") for i in range(150)],
            feed_target(feed): [OutMessage(b"f", message_id=f"f{i}") for i in range(150)],
            feed_target(f"{domain}x.nobody.listens"): [OutMessage(b"lost on purpose")],
            names("empty"): [],  # nothing to publish: not even looked up
        }
    )

    assert [m.message_id for m in collect(bus, first, 150)] == [f"a{i}" for i in range(150)]
    assert [m.message_id for m in collect(bus, second, 150)] == [f"f{i}" for i in range(150)]


def test_publish_many_fails_when_one_target_is_an_unknown_queue(bus: Bus, names: Names) -> None:
    known = names("known")
    declare(bus, known)
    with pytest.raises(BusError):
        bus.publish_many({known: [OutMessage(b"x")], names("never-declared"): [OutMessage(b"y")]})


def test_publishing_to_an_unknown_queue_fails(bus: Bus, names: Names) -> None:
    with pytest.raises(BusError):
        bus.publish(names("never-declared"), [OutMessage(b"x")])


def test_a_rejected_message_goes_to_the_dead_letter_queue_with_its_reason(
    bus: Bus, names: Names
) -> None:
    queue = names("work")
    declare(bus, queue)
    bus.publish(queue, [OutMessage(b"ok", message_id="a"), OutMessage(b"bad", {"k": "v"}, "b")])

    def decide(message: Message) -> Disposition:
        return Reject("party.uscc: bad check digit [uscc]") if message.body == b"bad" else ACK

    collect(bus, queue, 2, decide=decide)
    [dead] = collect(bus, dead_letter_queue(queue), 1)

    assert (dead.body, dead.message_id) == (b"bad", "b")
    assert dead.headers == {
        "k": "v",
        DEAD_REASON_HEADER: "party.uscc: bad check digit [uscc]",
        DEAD_QUEUE_HEADER: queue,
    }
    assert bus.depth(queue) == 0


def test_a_requeued_message_comes_back_after_its_delay_even_across_a_restart(
    open_test_bus: Callable[[], Bus], names: Names
) -> None:
    bus = open_test_bus()
    queue = names("retry")
    declare(bus, queue)
    bus.publish(queue, [OutMessage(b"again", {"attempt": "first"}, "r1")])
    delay_s = 0.5
    requeued_at: list[float] = []

    def later(_: Message) -> Disposition:
        requeued_at.append(time.monotonic())
        return Requeue(delay_s)

    collect(bus, queue, 1, decide=later)
    assert bus.depth(queue) == 0, "a delayed message must not be visible yet"
    bus.close()

    restarted = open_test_bus()
    [message] = collect(restarted, queue, 1, timeout=5)
    elapsed = time.monotonic() - requeued_at[0]

    assert elapsed >= delay_s
    assert (message.body, message.message_id) == (b"again", "r1")
    assert message.headers == {"attempt": "first", RETRIES_HEADER: 1}


def test_a_delayed_publish_is_invisible_until_its_delay_has_passed(bus: Bus, names: Names) -> None:
    queue = names("delayed")
    declare(bus, queue)
    published_at = time.monotonic()
    bus.publish(queue, [OutMessage(b"later", message_id="d1")], delay_s=0.25)
    assert bus.depth(queue) == 0

    [message] = collect(bus, queue, 1, timeout=5)

    assert time.monotonic() - published_at >= 0.25
    assert message.message_id == "d1"


def test_a_requeue_without_delay_counts_the_retries(bus: Bus, names: Names) -> None:
    queue = names("retry-now")
    declare(bus, queue)
    bus.publish(queue, [OutMessage(b"x", message_id="n1")])

    def twice(message: Message) -> Disposition:
        return Requeue() if message.headers.get(RETRIES_HEADER) != 2 else ACK

    seen = collect(bus, queue, 3, decide=twice)

    assert [m.headers.get(RETRIES_HEADER) for m in seen] == [None, 1, 2]
    assert bus.depth(queue) == 0


def test_a_failing_handler_returns_the_batch_as_redelivered(bus: Bus, names: Names) -> None:
    queue = names("boom")
    declare(bus, queue)
    bus.publish(queue, [OutMessage(b"x", message_id=f"b{i}") for i in range(3)])

    def explode(_: list[Message]) -> list[Disposition]:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError, match="handler bug"):
        bus.consume(queue, explode, batch_size=10, batch_wait_s=0.05, stop=threading.Event())
    again = collect(bus, queue, 3)

    assert sorted(m.message_id or "" for m in again) == ["b0", "b1", "b2"]
    assert all(m.redelivered for m in again)


def test_a_handler_returning_the_wrong_number_of_dispositions_is_an_error(
    bus: Bus, names: Names
) -> None:
    queue = names("short")
    declare(bus, queue)
    bus.publish(queue, [OutMessage(b"x"), OutMessage(b"y")])

    with pytest.raises(ValueError, match="dispositions"):
        bus.consume(queue, lambda _: [ACK], batch_size=2, batch_wait_s=0.2, stop=threading.Event())

    assert len(collect(bus, queue, 2)) == 2


def test_a_blocked_handler_on_one_queue_does_not_stop_another_queue(bus: Bus, names: Names) -> None:
    slow, fast = names("slow-destination"), names("fast-destination")
    declare(bus, slow, fast)
    release = threading.Event()
    slow_started, fast_done = threading.Event(), threading.Event()

    def blocked(batch: list[Message]) -> list[Disposition]:
        slow_started.set()
        release.wait(10)
        return [ACK] * len(batch)

    def quick(batch: list[Message]) -> list[Disposition]:
        fast_done.set()
        return [ACK] * len(batch)

    consumers = [Consumer(bus, slow, blocked), Consumer(bus, fast, quick)]
    for consumer in consumers:
        consumer.start()
    try:
        bus.publish(slow, [OutMessage(b"stuck")])
        assert slow_started.wait(5)
        bus.publish(fast, [OutMessage(b"flows")])
        assert fast_done.wait(5), "the fast queue waited for the blocked one"
    finally:
        release.set()
        for consumer in consumers:
            consumer.stop()


def test_a_delayed_feed_message_reaches_its_subscribers_after_the_delay(
    bus: Bus, names: Names
) -> None:
    subscriber = names("subscriber")
    feed = f"{names.prefix}.case.v1"
    declare(bus, subscriber)
    bus.declare(Topology(bindings=(feed_binding(feed, subscriber),)))
    published_at = time.monotonic()

    bus.publish(feed_target(feed), [OutMessage(b"c", message_id="f1")], delay_s=0.2)

    assert bus.depth(subscriber) == 0
    [message] = collect(bus, subscriber, 1, timeout=5)

    assert time.monotonic() - published_at >= 0.2
    assert message.message_id == "f1"
