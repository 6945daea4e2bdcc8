"""The RabbitMQ backend: kombu for connections, py-amqp channels for batched confirms and acks.

kombu's ``Producer.publish`` with ``confirm_publish=True`` waits for one confirm per message (a
round trip and a broker fsync each); here a batch is written with ``basic_publish`` on a channel
in confirm mode and the confirms are collected afterwards (``basic_ack`` events, possibly
``multiple``), so a batch costs about one round trip. A consumed batch is acknowledged with one
``basic_ack(last_tag, multiple=True)``. Every message is persistent (``delivery_mode=2``) and
every queue durable.

Delays are durable without the delayed-message plugin: a message delayed by ``d`` goes to the
bucket queue ``ebus.delay.<ms>[.<exchange>]`` for the smallest bucket ``ms >= d``, whose
``x-message-ttl`` expires it into ``x-dead-letter-exchange`` (the default exchange, or the
target exchange) with its original routing key, i.e. back to its queue. A fanout exchange of
the same name feeds each bucket, so the routing key survives the detour.

py-amqp connections are not thread-safe: ``publish`` checks a connection out of a pool for the
duration of one call, and each ``consume`` call has a connection of its own. ``consume``
reconnects with backoff when its connection drops; unacknowledged messages come back from the
broker with ``redelivered=True``.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final

import amqp
import kombu.connection
import kombu.exceptions

from runner.bus._amqp_io import buffer_reads, corked, skip_publish_polls
from runner.bus._pool import Pool
from runner.bus._settle import dead_copy, requeue_copy, settle
from runner.bus.api import (
    Bus,
    BusError,
    Handler,
    HeaderValue,
    Message,
    OutMessage,
    check_delay,
    parse_target,
)
from runner.bus.topology import DEAD_LETTER_EXCHANGE, Topology

__all__ = ["DELAY_BUCKETS_S", "AmqpBus", "delay_bucket"]

log = logging.getLogger(__name__)

DELAY_BUCKETS_S: Final = (
    0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900,
    1800, 3600, 7200, 14400, 28800, 43200, 86400,
)  # fmt: skip
"""The delays RabbitMQ can do; a delay is rounded up to the next one."""

PREFETCH_BATCHES = 2
"""Prefetch this many batches, so the next batch streams in while one is handled."""
STOP_POLL_S = 0.1
"""How long an idle consumer waits on the socket before it looks at ``stop`` again."""
MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
"""A consumer that lost its connection retries after 0.5 s, doubling up to 30 s."""

_CONNECTION_ERRORS: Final = (
    amqp.exceptions.RecoverableConnectionError,
    amqp.exceptions.ConnectionError,
    kombu.exceptions.OperationalError,
    OSError,
)
_Connection: Any = kombu.connection.Connection  # partly annotated; used as Any at this boundary
_BROKER_ERRORS: Final = (amqp.exceptions.AMQPError, kombu.exceptions.KombuError, OSError)
_DEATH_HEADERS: Final = ("x-death", "x-first-death-", "x-last-death-")


def delay_bucket(delay_s: float) -> int:
    """The bucket, in milliseconds, that delays a message by at least ``delay_s``."""
    index = bisect.bisect_left(DELAY_BUCKETS_S, check_delay(delay_s))
    return round(DELAY_BUCKETS_S[min(index, len(DELAY_BUCKETS_S) - 1)] * 1000)


@contextmanager
def _mapped_errors(what: str) -> Iterator[None]:
    try:
        yield
    except _BROKER_ERRORS as exc:
        raise BusError(f"RabbitMQ {what}: {exc!r}") from exc


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, _CONNECTION_ERRORS) or isinstance(exc.__cause__, _CONNECTION_ERRORS)


class _HandlerFailed(Exception):
    """Carries an exception of the handler through the reconnect logic unchanged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


class _Publisher:
    """One connection and one confirm-mode channel, used by one thread."""

    def __init__(self, connection: Any, confirm_timeout_s: float) -> None:
        self.connection = connection
        self._timeout = confirm_timeout_s
        skip_publish_polls(connection)  # the confirm wait after each batch reads the socket
        self._channel = connection.channel()
        self._channel.confirm_select()
        self._channel.events["basic_ack"].add(self._on_ack)
        self._channel.events["basic_nack"].add(self._on_nack)
        self._channel.events["basic_return"].add(self._on_return)
        self._next_tag = 1
        self._unconfirmed: set[int] = set()
        self._nacked = 0
        self._returned = 0

    def _settled(self, tag: int, multiple: bool) -> int:
        before = len(self._unconfirmed)
        if multiple:
            self._unconfirmed = {t for t in self._unconfirmed if t > tag}
        else:
            self._unconfirmed.discard(tag)
        return before - len(self._unconfirmed)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settled(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._nacked += self._settled(tag, multiple)

    def _on_return(self, *_: object) -> None:
        self._returned += 1

    def declare_delay(self, name: str, ttl_ms: int, dead_letter_exchange: str) -> None:
        """Declare a delay bucket: a fanout exchange feeding a TTL queue of the same name."""
        channel = self._channel
        channel.exchange_declare(name, "fanout", durable=True, auto_delete=False)
        arguments = {"x-message-ttl": ttl_ms, "x-dead-letter-exchange": dead_letter_exchange}
        channel.queue_declare(name, durable=True, auto_delete=False, arguments=arguments)
        channel.queue_bind(name, name, "")

    def publish(
        self, exchange: str, routing_key: str, messages: Sequence[OutMessage], mandatory: bool
    ) -> None:
        """Publish ``messages`` and wait until the broker confirmed every one of them."""
        self.publish_parts([_Part(exchange, routing_key, messages, mandatory)])

    def publish_parts(self, parts: Sequence[_Part]) -> None:
        """Publish every part in one write and wait once until the broker confirmed them all."""
        count = sum(len(part.messages) for part in parts)
        first = self._next_tag
        self._next_tag += count
        self._unconfirmed.update(range(first, self._next_tag))
        self._nacked = self._returned = 0
        with corked(self.connection):  # the batch goes out in one write
            for part in parts:
                for message in part.messages:
                    self._channel.basic_publish(
                        _to_amqp(message),
                        exchange=part.exchange,
                        routing_key=part.routing_key,
                        mandatory=part.mandatory,
                    )
        deadline = time.monotonic() + self._timeout
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BusError(f"RabbitMQ did not confirm {len(self._unconfirmed)} messages")
            try:
                self.connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue
        if self._nacked or self._returned:
            where = ", ".join(f"{p.exchange or '(default)'}:{p.routing_key}" for p in parts)
            raise BusError(
                f"RabbitMQ refused {self._nacked} and could not route {self._returned} of "
                f"{count} messages to {where}"
            )


@dataclass(frozen=True)
class _Part:
    """Messages for one exchange and routing key, within one confirmed publish."""

    exchange: str
    routing_key: str
    messages: Sequence[OutMessage]
    mandatory: bool


def _mandatory(exchange: str, delay_s: float) -> bool:
    """A message for a queue or a delay bucket must reach it; a feed may have no subscriber."""
    return not exchange or exchange == DEAD_LETTER_EXCHANGE or delay_s > 0


def _to_amqp(message: OutMessage) -> amqp.Message:
    properties: dict[str, Any] = {
        "delivery_mode": 2,
        "content_type": "application/octet-stream",
        "application_headers": dict(message.headers),
    }
    if message.message_id is not None:
        properties["message_id"] = message.message_id
    return amqp.Message(message.body, **properties)


def _from_amqp(raw: Any, queue: str) -> Message:
    properties = raw.properties
    headers: dict[str, HeaderValue] = {
        key: value
        for key, value in (properties.get("application_headers") or {}).items()
        if (value is None or isinstance(value, str | int)) and not key.startswith(_DEATH_HEADERS)
    }
    body = raw.body if isinstance(raw.body, bytes) else bytes(raw.body, "utf-8")
    return Message(
        body=body,
        headers=headers,
        message_id=properties.get("message_id"),
        delivery_tag=raw.delivery_info["delivery_tag"],
        redelivered=bool(raw.delivery_info["redelivered"]),
        queue=queue,
    )


class AmqpBus(Bus):
    """A ``Bus`` on RabbitMQ (``amqp://guest:guest@127.0.0.1:5672//``)."""

    def __init__(self, url: str, *, confirm_timeout_s: float = 30.0) -> None:
        self._url = url
        self._confirm_timeout_s = confirm_timeout_s
        self._lock = threading.Lock()
        self._connections: set[Any] = set()
        self._publishers = Pool(self._new_publisher, self._drop_publisher)
        self._delays: set[str] = set()
        self._closed = False
        with self._publishing("connect"):
            pass

    def _connect(self) -> Any:
        if self._closed:
            raise BusError("the bus is closed")
        connection = _Connection(self._url, connect_timeout=10)
        connection.connect()
        buffer_reads(connection)
        with self._lock:
            self._connections.add(connection)
        return connection

    def _disconnect(self, connection: Any) -> None:
        with self._lock:
            self._connections.discard(connection)
        try:
            connection.release()
        except _BROKER_ERRORS:
            log.debug("error while closing a broken connection", exc_info=True)

    def _new_publisher(self) -> _Publisher:
        connection = self._connect()
        try:
            return _Publisher(connection, self._confirm_timeout_s)
        except BaseException:
            self._disconnect(connection)
            raise

    def _drop_publisher(self, publisher: _Publisher) -> None:
        self._disconnect(publisher.connection)

    @contextmanager
    def _publishing(self, what: str) -> Iterator[_Publisher]:
        """A pooled publisher; one that fails in any way is closed, not reused.

        After a connection error the idle ones go too: when the broker restarted they are all
        dead, and each would fail one more publish.
        """
        try:
            with _mapped_errors(what), self._publishers.connection() as publisher:
                yield publisher
        except BusError as exc:
            if _is_connection_error(exc):
                self._publishers.clear()
            raise

    def declare(self, topology: Topology) -> None:
        """Declare exchanges, durable queues with dead-letter routing, and bindings."""
        expanded = topology.expanded()
        expanded.check()
        dead_letter = {q.name for q in expanded.queues if q.dead_letter}
        with self._publishing("declare") as publisher:
            channel = publisher.connection.channel()
            for exchange in expanded.exchanges:
                channel.exchange_declare(
                    exchange.name, exchange.kind, durable=True, auto_delete=False
                )
            for queue in expanded.queues:
                arguments: dict[str, Any] = (
                    {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE}
                    | {"x-dead-letter-routing-key": queue.name}
                    if queue.name in dead_letter
                    else {}
                )
                if queue.single_active:
                    arguments["x-single-active-consumer"] = True
                channel.queue_declare(
                    queue.name, durable=True, auto_delete=False, arguments=arguments
                )
            for binding in expanded.bindings:
                channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)
            channel.close()

    def publish(self, target: str, messages: Sequence[OutMessage], *, delay_s: float = 0) -> None:
        """Publish with persistent delivery and batched publisher confirms; see ``Bus.publish``."""
        check_delay(delay_s)
        if messages:
            exchange, routing_key = parse_target(target)
            self._publish(exchange, routing_key, messages, delay_s)

    def publish_many(self, batches: Mapping[str, Sequence[OutMessage]]) -> None:
        """Publish every target's messages in one write, under one wait for their confirms."""
        parts = [
            _Part(exchange, routing_key, messages, _mandatory(exchange, 0))
            for target, messages in batches.items()
            if messages
            for exchange, routing_key in [parse_target(target)]
        ]
        if len(parts) <= 1:
            for part in parts:
                self._publish(part.exchange, part.routing_key, part.messages, 0)
            return
        with self._publishing(f"publish to {len(parts)} targets") as publisher:
            publisher.publish_parts(parts)

    def _publish(
        self, exchange: str, routing_key: str, messages: Sequence[OutMessage], delay_s: float
    ) -> None:
        mandatory = _mandatory(exchange, delay_s)
        bucket = ""
        try:
            with self._publishing(f"publish to {exchange}:{routing_key}") as publisher:
                if delay_s > 0:
                    bucket_ms = delay_bucket(delay_s)
                    bucket = f"ebus.delay.{bucket_ms}" + (f".{exchange}" if exchange else "")
                    if bucket not in self._delays:
                        publisher.declare_delay(bucket, bucket_ms, exchange)
                        self._delays.add(bucket)
                    exchange = bucket
                publisher.publish(exchange, routing_key, messages, mandatory)
        except BusError:
            self._delays.discard(bucket)  # declare it again next time, in case it was deleted
            raise

    def consume(
        self,
        queue: str,
        handler: Handler,
        *,
        batch_size: int = 100,
        batch_wait_s: float = 0.05,
        stop: threading.Event,
    ) -> None:
        """Consume with prefetch and one ``multiple`` ack per batch; see ``Bus.consume``."""
        if not 1 <= batch_size <= 65535 // PREFETCH_BATCHES:
            raise ValueError(f"batch_size must be between 1 and {65535 // PREFETCH_BATCHES}")
        backoff = MIN_BACKOFF_S
        while not stop.is_set() and not self._closed:
            started = time.monotonic()
            try:
                self._session(queue, handler, batch_size, batch_wait_s, stop)
            except _HandlerFailed as failed:
                raise failed.error from None
            except (BusError, *_BROKER_ERRORS) as exc:
                if self._closed:
                    return
                if not _is_connection_error(exc):
                    raise BusError(f"RabbitMQ consume from {queue!r}: {exc!r}") from exc
                if time.monotonic() - started > MAX_BACKOFF_S:
                    backoff = MIN_BACKOFF_S  # it had been working: this is a new outage
                log.warning("consumer of %s lost its connection (%r), reconnecting", queue, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _session(
        self,
        queue: str,
        handler: Handler,
        batch_size: int,
        batch_wait_s: float,
        stop: threading.Event,
    ) -> None:
        connection = self._connect()
        try:
            channel = connection.channel()
            channel.basic_qos(0, batch_size * PREFETCH_BATCHES, False)
            inbox: deque[Any] = deque()
            channel.basic_consume(queue, callback=inbox.append, no_ack=False)
            while not stop.is_set():
                batch = self._gather(connection, inbox, queue, batch_size, batch_wait_s, stop)
                if batch:
                    self._process(channel, queue, batch, handler)
        finally:
            self._disconnect(connection)  # whatever is unacknowledged goes back to the queue

    def _gather(
        self,
        connection: Any,
        inbox: deque[Any],
        queue: str,
        batch_size: int,
        batch_wait_s: float,
        stop: threading.Event,
    ) -> list[Message]:
        batch: list[Message] = []
        deadline: float | None = None
        while not stop.is_set():
            while inbox and len(batch) < batch_size:
                batch.append(_from_amqp(inbox.popleft(), queue))
            if len(batch) >= batch_size:
                return batch
            now = time.monotonic()
            timeout = STOP_POLL_S
            if batch:
                if deadline is None:
                    deadline = now + batch_wait_s
                if now >= deadline:
                    return batch
                timeout = min(timeout, deadline - now)
            with suppress(TimeoutError):  # py-amqp raises socket.timeout, an alias
                connection.drain_events(timeout=max(timeout, 0.001))
        return []  # unacknowledged: the broker redelivers them

    def _process(self, channel: Any, queue: str, batch: list[Message], handler: Handler) -> None:
        try:
            settlement = settle(handler, batch)
        except BaseException as exc:
            raise _HandlerFailed(exc) from exc
        for delay_s, messages in settlement.requeues.items():
            self._publish("", queue, [requeue_copy(m) for m in messages], delay_s)
        if settlement.rejects:
            dead = [dead_copy(m, reason) for m, reason in settlement.rejects]
            self._publish(DEAD_LETTER_EXCHANGE, queue, dead, 0)
        channel.basic_ack(batch[-1].delivery_tag, multiple=True)

    def depth(self, queue: str) -> int:
        """Ready messages in ``queue`` (a passive declare); see ``Bus.depth``."""
        with self._publishing(f"depth of {queue!r}") as publisher:
            channel = publisher.connection.channel()
            _, count, _ = channel.queue_declare(queue, passive=True)
            channel.close()
            return int(count)

    def close(self) -> None:
        """Close every connection this bus opened; unacknowledged messages are redelivered."""
        self._closed = True
        self._publishers.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            self._disconnect(connection)
