"""RabbitMQ for the benchmarks: the server's version, and deleting what a run declared.

Each run gives the test kit a system id of its own (``bench<hex>``), hence queues of its own, so
a benchmark and the test suite can share one broker without consuming each other's messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import amqp

__all__ = ["AMQP_URL", "delete_queues", "server_version"]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def _connection(url: str) -> amqp.Connection:
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    connection = amqp.Connection(
        f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=vhost,
        connect_timeout=5,
    )
    connection.connect()
    return connection


def server_version(url: str) -> str:
    """The RabbitMQ version the broker at ``url`` announces."""
    connection = _connection(url)
    try:
        version = connection.server_properties.get("version", "?")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        connection.close()


def delete_queues(url: str, names: Iterable[str], exchanges: Iterable[str] = ()) -> None:
    """Delete queues and exchanges (missing ones are fine)."""
    connection = _connection(url)
    try:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(name)
        for name in exchanges:
            channel.exchange_delete(name)
    finally:
        connection.close()
