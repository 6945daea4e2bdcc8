"""The message bus: one small interface (``Bus``), two backends chosen by URL.

- ``amqp://user:pass@host:5672/vhost``: RabbitMQ through kombu/py-amqp, persistent messages,
  batched publisher confirms, batched acks, delay buckets (``runner.bus._amqp``);
- ``sqlite:///var/ebus-broker.db`` (the default): an embedded durable broker in one SQLite file
  that needs no server (``runner.bus._sqlite``).

::

    with open_bus("sqlite:///var/ebus-broker.db") as bus:
        bus.declare(Topology(queues=(QueueSpec(route_queue("eco_env-penalties")),)))
        bus.publish(route_queue("eco_env-penalties"), [OutMessage(b"<xml/>", message_id="m1")])
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from runner.bus.api import (
    ACK,
    DEAD_QUEUE_HEADER,
    DEAD_REASON_HEADER,
    MAX_DELAY_S,
    RETRIES_HEADER,
    Ack,
    Bus,
    BusError,
    Disposition,
    Handler,
    HeaderValue,
    Message,
    OutMessage,
    Reject,
    Requeue,
    parse_target,
)
from runner.bus.topology import (
    CANONICAL_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    Binding,
    Exchange,
    QueueSpec,
    Topology,
    dead_letter_queue,
    delivery_queue,
    feed_binding,
    feed_target,
    inbound_queue,
    route_queue,
)
from runner.errors import ConfigError

__all__ = [
    "ACK",
    "CANONICAL_EXCHANGE",
    "DEAD_LETTER_EXCHANGE",
    "DEAD_QUEUE_HEADER",
    "DEAD_REASON_HEADER",
    "DEFAULT_URL",
    "MAX_DELAY_S",
    "RETRIES_HEADER",
    "Ack",
    "Binding",
    "Bus",
    "BusError",
    "Disposition",
    "Exchange",
    "Handler",
    "HeaderValue",
    "Message",
    "OutMessage",
    "QueueSpec",
    "Reject",
    "Requeue",
    "Topology",
    "dead_letter_queue",
    "delivery_queue",
    "feed_binding",
    "feed_target",
    "inbound_queue",
    "open_bus",
    "parse_target",
    "route_queue",
    "sqlite_path",
]

DEFAULT_URL: Final = "sqlite:///var/ebus-broker.db"
"""The embedded broker, relative to the working directory."""

_AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


def open_bus(url: str = DEFAULT_URL) -> Bus:
    """The bus at ``url``: ``amqp://...`` for RabbitMQ, ``sqlite:///path`` for the embedded one."""
    scheme = url.partition("://")[0].lower()
    if scheme in _AMQP_SCHEMES:
        from runner.bus._amqp import AmqpBus  # noqa: PLC0415  kombu loads only when used

        return AmqpBus(url)
    if scheme == "sqlite":
        from runner.bus._sqlite import SqliteBus  # noqa: PLC0415  symmetric with amqp

        return SqliteBus(sqlite_path(url))
    raise ConfigError(
        f"unknown bus URL scheme {scheme!r}: use amqp://user:pass@host:5672/ or sqlite:///path"
    )


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url:
        raise ConfigError(f"bad embedded bus URL {url!r}: use sqlite:///path/to/broker.db")
    return Path(url.removeprefix(prefix))
