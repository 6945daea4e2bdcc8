"""What only the RabbitMQ backend does: reconnecting, and delay buckets on the broker."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from runner.bus import ACK, BusError, Message, OutMessage, QueueSpec, Topology, open_bus
from runner.bus._amqp import AmqpBus
from runner.bus.api import Disposition
from runner.errors import ConfigError

from .conftest import AMQP_URL, Consumer, Names, declare, require_rabbitmq

pytestmark = pytest.mark.integration


@pytest.fixture
def bus(amqp_bus: AmqpBus) -> AmqpBus:
    """Every test here runs on RabbitMQ only."""
    return amqp_bus


@pytest.fixture
def names() -> Iterator[Names]:
    names = Names()
    yield names
    require_rabbitmq()
    import kombu  # noqa: PLC0415

    with kombu.Connection(AMQP_URL) as connection:
        channel = connection.channel()
        for queue in names.queues:
            channel.queue_delete(queue)


def _consumer_sockets(bus: AmqpBus) -> list[Any]:
    return [
        c.connection.sock
        for c in list(bus._connections)
        if any(getattr(ch, "callbacks", None) for ch in c.connection.channels.values())
    ]


def test_a_consumer_reconnects_when_its_connection_drops(bus: AmqpBus, names: Names) -> None:
    queue = names("reconnect")
    declare(bus, queue)
    got: list[Message] = []
    first, second = threading.Event(), threading.Event()

    def handler(batch: list[Message]) -> list[Disposition]:
        got.extend(batch)
        (second if any(m.message_id == "after" for m in batch) else first).set()
        return [ACK] * len(batch)

    consumer = Consumer(bus, queue, handler)
    consumer.start()
    try:
        bus.publish(queue, [OutMessage(b"1", message_id="before")])
        assert first.wait(5)
        [sock] = _consumer_sockets(bus)
        sock.shutdown(socket.SHUT_RDWR)
        bus.publish(queue, [OutMessage(b"2", message_id="after")])
        assert second.wait(10), "the consumer did not come back"
    finally:
        consumer.stop()
    # the cut may come before the ack of "before" went out, or "after" may be pushed to the dead
    # connection before the broker notices: either comes again, flagged as redelivered
    ids = [m.message_id for m in got]
    assert set(ids) == {"before", "after"}
    assert all(m.redelivered for i, m in enumerate(got) if m.message_id in ids[:i])
    assert bus.depth(queue) == 0


def test_after_a_dropped_connection_only_one_publish_fails(bus: AmqpBus, names: Names) -> None:
    queue = names("restart")
    declare(bus, queue)
    hold = threading.Barrier(3)

    def publish_together() -> None:  # three concurrent publishes leave three pooled connections
        hold.wait(5)
        bus.publish(queue, [OutMessage(b"x")])

    threads = [threading.Thread(target=publish_together) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    for connection in list(bus._connections):  # what a broker restart does to them
        connection.connection.sock.shutdown(socket.SHUT_RDWR)

    with pytest.raises(BusError):
        bus.publish(queue, [OutMessage(b"lost with the connection")])
    bus.publish(queue, [OutMessage(b"on a fresh connection")])
    assert bus.depth(queue) == 4


def test_a_single_active_queue_gives_every_message_to_one_consumer_at_a_time(
    bus: AmqpBus, names: Names
) -> None:
    # an ordered destination's queue: two `ebus run` processes must not share a case's messages
    queue = names("ordered")
    bus.declare(Topology(queues=(QueueSpec(queue, single_active=True),)))
    got: dict[str, list[str]] = {"a": [], "b": []}
    done = threading.Event()

    def taker(name: str) -> Any:
        def handle(batch: list[Message]) -> list[Disposition]:
            got[name] += [m.message_id or "" for m in batch]
            if len(got["a"]) + len(got["b"]) >= 200:
                done.set()
            return [ACK] * len(batch)

        return handle

    other = open_bus(AMQP_URL)  # a second process, as far as the broker can tell
    consumers = [Consumer(bus, queue, taker("a")), Consumer(other, queue, taker("b"))]
    try:
        for consumer in consumers:
            consumer.start()
        time.sleep(0.5)  # both are registered before anything is published
        for start in range(0, 200, 20):
            batch = [OutMessage(b"x", message_id=f"m{i:03d}") for i in range(start, start + 20)]
            bus.publish(queue, batch)
        assert done.wait(15)
    finally:
        for consumer in consumers:
            consumer.stop()
        other.close()
    taken = [ids for ids in got.values() if ids]
    assert len(taken) == 1  # one consumer took them all, in order
    assert taken[0] == [f"m{i:03d}" for i in range(200)]


def test_a_queue_declared_both_single_active_and_not_is_a_config_error(names: Names) -> None:
    queue = names("clash")
    topology = Topology(queues=(QueueSpec(queue), QueueSpec(queue, single_active=True)))
    with pytest.raises(ConfigError, match="single active consumer"):
        topology.check()
