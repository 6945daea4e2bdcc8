"""The real services tests use: where they are, and skip-locally / fail-in-CI when they are not."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

__all__ = ["AMQP_URL", "delete_named_queues", "delete_queues", "require_rabbitmq"]

AMQP_URL = os.environ.get("EBUS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def require_rabbitmq() -> None:
    """Skip (fail when CI is set) when RabbitMQ does not answer."""
    parts = urlsplit(AMQP_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"RabbitMQ is not reachable at {parts.hostname}:{parts.port}: {exc}")


def delete_queues(route_id: str, system: str = "testkit") -> None:
    """Delete the test kit's RabbitMQ queues of ``route_id`` (and their dead letters)."""
    from runner.bus.topology import delivery_queue, inbound_queue  # noqa: PLC0415

    delete_named_queues(
        [inbound_queue(system, "subject"), delivery_queue(route_id, f"{system}-deliver")]
    )


def delete_named_queues(names: list[str]) -> None:
    """Delete RabbitMQ queues (and their dead-letter queues) so a test starts clean."""
    import kombu  # noqa: PLC0415

    from runner.bus.topology import dead_letter_queue  # noqa: PLC0415

    with kombu.Connection(AMQP_URL) as connection:
        channel = connection.channel()
        for name in names:
            for queue in (name, dead_letter_queue(name)):
                channel.queue_delete(queue)


def runtime_queues(project: object) -> list[str]:
    """Every queue a runtime of ``project`` declares on the default vhost: inbound, delivery,
    lookup and feed-route queues, the transfer workflow's and the day archive's. A test that
    runs the real project on the shared RabbitMQ deletes them all afterwards, or the feed-bound
    ones would collect every later test's canonical messages."""
    from runner.engine import archive  # noqa: PLC0415
    from runner.engine.plan import build_feed_plans, build_plans, topology_of  # noqa: PLC0415
    from runner.transfers import worker  # noqa: PLC0415

    topology = topology_of(build_plans(project), build_feed_plans(project))  # type: ignore[arg-type]
    return [q.name for q in topology.queues] + [worker.QUEUE, archive.QUEUE]
