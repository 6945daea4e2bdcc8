"""What only the RabbitMQ backend does: reconnecting, and delay buckets on the broker."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from runner.bus import ACK, BusError, Message, OutMessage, open_bus
from runner.bus._amqp import AmqpBus
from runner.bus.api import Disposition

from .conftest import AMQP_URL, Consumer, Names, declare, require_rabbitmq

pytestmark = pytest.mark.integration


@pytest.fixture
def bus() -> Iterator[AmqpBus]:
    require_rabbitmq()
    bus = open_bus(AMQP_URL)
    assert isinstance(bus, AmqpBus)
    yield bus
    bus.close()


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
