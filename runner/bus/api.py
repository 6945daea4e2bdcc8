"""The transport-neutral interface of the message bus: messages, dispositions and ``Bus``.

The runtime sees only this module. A worker is a handler that takes a batch of messages and
returns one disposition per message; the bus applies the dispositions and acknowledges the batch
as a whole, so a crash at any point leaves each message either settled or redelivered::

    def relay(batch: list[Message]) -> list[Disposition]:
        bus.publish("ebus.deliver.r1.credit_fj", [m.forward() for m in batch])  # confirmed
        return [ACK] * len(batch)

    bus.consume("ebus.route.r1", relay, batch_size=100, batch_wait_s=0.02, stop=stop)

A target is either a queue name (``ebus.route.r1``) or ``exchange:routing_key``
(``ebus.canonical:enforcement.penalty_decision.v1``). Publishing to a queue that does not exist is
an error; publishing to an exchange with no matching binding drops the message, as on RabbitMQ.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final

from runner.bus.topology import Topology
from runner.errors import EbusError

__all__ = [
    "ACK",
    "DEAD_QUEUE_HEADER",
    "DEAD_REASON_HEADER",
    "MAX_DELAY_S",
    "RETRIES_HEADER",
    "Ack",
    "Bus",
    "BusError",
    "Disposition",
    "Handler",
    "HeaderValue",
    "Message",
    "OutMessage",
    "Reject",
    "Requeue",
    "check_delay",
    "parse_target",
]

HeaderValue = str | int | None
"""The header values both backends carry unchanged (AMQP tables hold more; we use these)."""

RETRIES_HEADER: Final = "x-ebus-retries"
"""How many times a message was requeued with ``Requeue``; absent before the first time."""
DEAD_REASON_HEADER: Final = "x-ebus-dead-reason"
"""On a dead-lettered message: the reason given by ``Reject``."""
DEAD_QUEUE_HEADER: Final = "x-ebus-dead-queue"
"""On a dead-lettered message: the queue it was rejected from (where a replay sends it back)."""

MAX_DELAY_S: Final = 24 * 3600.0
"""The longest delay ``publish`` and ``Requeue`` accept (the largest RabbitMQ delay bucket)."""


class BusError(EbusError):
    """The broker failed or refused an operation; the original error is the ``__cause__``.

    After a ``BusError`` from ``publish`` some of the messages may have been stored: the caller
    retries the whole batch (at-least-once) and has not acknowledged its source.
    """


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A message to publish."""

    body: bytes
    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    message_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.body, bytes):
            raise TypeError(f"body must be bytes, not {type(self.body).__name__}")
        for key, value in self.headers.items():
            if not (value is None or isinstance(value, str | int)):
                raise TypeError(f"header {key!r}: {type(value).__name__} is not str, int or None")


@dataclass(frozen=True, slots=True)
class Message:
    """A delivered message. ``delivery_tag`` is an opaque handle that only the bus interprets."""

    body: bytes
    headers: dict[str, HeaderValue]
    message_id: str | None
    delivery_tag: int
    redelivered: bool
    queue: str

    def forward(self, **headers: HeaderValue) -> OutMessage:
        """This message as an ``OutMessage``, with ``headers`` added or replaced."""
        return OutMessage(self.body, {**self.headers, **headers}, self.message_id)


@dataclass(frozen=True, slots=True)
class Ack:
    """The message is done: remove it from the queue."""


@dataclass(frozen=True, slots=True)
class Reject:
    """The message can never be processed: move it to its queue's dead-letter queue.

    ``reason`` is stored in the ``x-ebus-dead-reason`` header; it must hold no L3/L4 value.
    """

    reason: str


@dataclass(frozen=True, slots=True)
class Requeue:
    """Try the message again after ``delay_s`` seconds (durably: a restart does not lose it)."""

    delay_s: float = 0.0


Disposition = Ack | Reject | Requeue
"""What happens to one consumed message."""

ACK: Final = Ack()

Handler = Callable[[list[Message]], list[Disposition]]
"""Takes a batch, returns one disposition per message, in the same order."""


class Bus(ABC):
    """A durable message broker, as the runtime uses it. Safe to share between threads."""

    @abstractmethod
    def declare(self, topology: Topology) -> None:
        """Create the exchanges, queues (each with its dead-letter queue) and bindings.

        Idempotent; the canonical feed exchange and the dead-letter exchange always exist.
        """

    @abstractmethod
    def publish(self, target: str, messages: Sequence[OutMessage], *, delay_s: float = 0) -> None:
        """Store ``messages`` durably; return only when the broker has accepted all of them.

        With ``delay_s`` > 0 the messages become visible no earlier than that many seconds from
        now, durably. Raises ``BusError`` when any message was not accepted.
        """

    def publish_many(self, batches: Mapping[str, Sequence[OutMessage]]) -> None:
        """``publish`` each target's messages (no delay); return only when the broker has
        accepted all of them. A backend may wait for all the confirms at once."""
        for target, messages in batches.items():
            self.publish(target, messages)

    @abstractmethod
    def consume(
        self,
        queue: str,
        handler: Handler,
        *,
        batch_size: int = 100,
        batch_wait_s: float = 0.05,
        stop: threading.Event,
    ) -> None:
        """Deliver batches from ``queue`` to ``handler`` until ``stop`` is set.

        A batch has up to ``batch_size`` messages; once one message is there the bus waits at
        most ``batch_wait_s`` for more. Each message's disposition is applied before the next
        batch is fetched. If the handler raises, the batch goes back to the queue
        (``redelivered=True``) and the exception propagates.
        """

    @abstractmethod
    def depth(self, queue: str) -> int:
        """How many messages in ``queue`` are ready now (not delayed, not being processed)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; unsettled messages go back to their queues. Idempotent."""

    def __enter__(self) -> Bus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def parse_target(target: str) -> tuple[str, str]:
    """``(exchange, routing_key)`` of a target; a plain queue name gives ``("", queue)``."""
    exchange, sep, routing_key = target.partition(":")
    if not sep:
        return "", target
    if not exchange:
        raise BusError(f"target {target!r} has an empty exchange name")
    return exchange, routing_key


def check_delay(delay_s: float) -> float:
    """``delay_s`` if it is a usable delay, else a ``ValueError`` naming the limits."""
    if not (math.isfinite(delay_s) and 0 <= delay_s <= MAX_DELAY_S):
        raise ValueError(f"delay_s must be between 0 and {MAX_DELAY_S:g} seconds, not {delay_s}")
    return delay_s
