"""Exchanges, queues and bindings of the bus, and the names the runtime gives them.

::

    ebus.in.<system>.<message>           raw messages from an inbound channel
    ebus.route.<route_id>                work of one route worker
    ebus.deliver.<route_id>.<dest>       work of one destination of a route (isolated per dest)
    <queue>.dead                         dead letters of <queue>, with reason headers
    ebus.canonical                       topic exchange of the canonical feeds (routing key = feed)
    ebus.dlx                             direct exchange routing dead letters (routing key = queue)

Declaring a queue also declares its dead-letter queue, bound to ``ebus.dlx`` by the queue's name::

    topology = Topology(
        queues=(QueueSpec(route_queue("eco_env-penalties")),),
        bindings=(feed_binding("enforcement.penalty_decision.v1", "ebus.route.audit"),),
    )
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from runner.errors import ConfigError

__all__ = [
    "CANONICAL_EXCHANGE",
    "DEAD_LETTER_EXCHANGE",
    "Binding",
    "Exchange",
    "ExchangeKind",
    "QueueSpec",
    "Topology",
    "dead_letter_queue",
    "delivery_queue",
    "feed_binding",
    "feed_target",
    "inbound_queue",
    "route_queue",
    "topic_matches",
]

CANONICAL_EXCHANGE: Final = "ebus.canonical"
DEAD_LETTER_EXCHANGE: Final = "ebus.dlx"

ExchangeKind = Literal["topic", "direct", "fanout"]

_T = TypeVar("_T")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_ROUTING_KEY = re.compile(r"[A-Za-z0-9_*#-]+(\.[A-Za-z0-9_*#-]+)*")


@dataclass(frozen=True, slots=True)
class Exchange:
    """A durable exchange."""

    name: str
    kind: ExchangeKind = "topic"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A durable queue; with ``dead_letter`` it gets ``<name>.dead`` for rejected messages.

    ``single_active``: one consumer at a time gets its messages (RabbitMQ's single active
    consumer; the others stand by and take over when it goes), for a queue whose order matters
    (an ordered destination and the queues on the way to it), so that several ``ebus run``
    processes never take one case's messages in parallel. The embedded broker serves one
    machine and ignores it.
    """

    name: str
    dead_letter: bool = True
    single_active: bool = False

    @property
    def dead_letter_queue(self) -> str | None:
        """The name of this queue's dead-letter queue, if it has one."""
        return dead_letter_queue(self.name) if self.dead_letter else None


@dataclass(frozen=True, slots=True)
class Binding:
    """Messages published to ``exchange`` whose routing key matches ``routing_key`` go to
    ``queue`` (topic patterns: ``*`` is one word, ``#`` zero or more)."""

    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True, slots=True)
class Topology:
    """What ``Bus.declare`` creates. Topologies add up: ``route_topology + feed_topology``."""

    exchanges: tuple[Exchange, ...] = ()
    queues: tuple[QueueSpec, ...] = ()
    bindings: tuple[Binding, ...] = ()

    def __add__(self, other: Topology) -> Topology:
        return Topology(
            _unique(self.exchanges + other.exchanges),
            _unique(self.queues + other.queues),
            _unique(self.bindings + other.bindings),
        )

    def expanded(self) -> Topology:
        """This topology plus the standard exchanges and every dead-letter queue and binding."""
        standard = (Exchange(CANONICAL_EXCHANGE, "topic"), Exchange(DEAD_LETTER_EXCHANGE, "direct"))
        dead: list[QueueSpec] = []
        dead_bindings: list[Binding] = []
        for queue in self.queues:
            if queue.dead_letter_queue:
                dead.append(QueueSpec(queue.dead_letter_queue, dead_letter=False))
                dead_bindings.append(Binding(DEAD_LETTER_EXCHANGE, dead[-1].name, queue.name))
        return Topology(standard, tuple(dead), tuple(dead_bindings)) + self

    def check(self) -> None:
        """Raise ``ConfigError`` on a bad name, a clashing definition or a bad routing key.

        A binding may name a queue or exchange declared earlier; the broker checks those.
        """
        kinds: dict[str, ExchangeKind] = {}
        for exchange in self.exchanges:
            _check_name(exchange.name)
            if kinds.setdefault(exchange.name, exchange.kind) != exchange.kind:
                raise ConfigError(f"exchange {exchange.name!r} declared as two kinds")
        dead_letter: dict[str, bool] = {}
        single: dict[str, bool] = {}
        for queue in self.queues:
            _check_name(queue.name)
            if dead_letter.setdefault(queue.name, queue.dead_letter) != queue.dead_letter:
                raise ConfigError(f"queue {queue.name!r} declared with and without dead letters")
            if single.setdefault(queue.name, queue.single_active) != queue.single_active:
                raise ConfigError(
                    f"queue {queue.name!r} declared with and without a single active consumer"
                )
        for binding in self.bindings:
            if not _ROUTING_KEY.fullmatch(binding.routing_key):
                raise ConfigError(f"bad routing key {binding.routing_key!r} in {binding}")


def _unique(items: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(items))


def _check_name(name: str) -> None:
    if not all(_SEGMENT.fullmatch(part) for part in name.split(".")):
        raise ConfigError(f"bad bus name {name!r}: use dot-separated [A-Za-z0-9_-] words")


def _segment(kind: str, value: str) -> str:
    if not _SEGMENT.fullmatch(value):
        raise ConfigError(f"bad {kind} {value!r} for a queue name: use [A-Za-z0-9_-] only")
    return value


def inbound_queue(system: str, message: str) -> str:
    """``ebus.in.<system>.<message>``: raw messages from a system's inbound channel."""
    return f"ebus.in.{_segment('system', system)}.{_segment('message', message)}"


def route_queue(route_id: str) -> str:
    """``ebus.route.<route_id>``: the work queue of a route worker."""
    return f"ebus.route.{_segment('route id', route_id)}"


def delivery_queue(route_id: str, destination: str) -> str:
    """``ebus.deliver.<route_id>.<destination>``: one queue per destination, for isolation."""
    return f"ebus.deliver.{_segment('route id', route_id)}.{_segment('destination', destination)}"


def dead_letter_queue(queue: str) -> str:
    """``<queue>.dead``: where messages rejected from ``queue`` go."""
    return f"{queue}.dead"


def feed_target(feed: str) -> str:
    """The publish target of a canonical feed: ``ebus.canonical:<feed>``."""
    return f"{CANONICAL_EXCHANGE}:{feed}"


def feed_binding(feed: str, queue: str) -> Binding:
    """Subscribe ``queue`` to a canonical feed (or a pattern such as ``enforcement.#``)."""
    return Binding(CANONICAL_EXCHANGE, queue, feed)


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether ``routing_key`` matches an AMQP topic ``pattern`` (``*`` one word, ``#`` any)."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words or (head != "*" and head != words[0]):
        return False
    return _match(rest, words[1:])
