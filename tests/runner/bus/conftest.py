"""Fixtures that run the same behavioural suite against both bus backends.

RabbitMQ tests skip when the broker is unreachable, and fail instead when ``CI`` is set.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.bus import Bus, Message, QueueSpec, Topology, dead_letter_queue, open_bus
from runner.bus._amqp import AmqpBus
from runner.bus.api import ACK, Disposition
from tests.services import AMQP_URL, require_rabbitmq


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="embedded"),
        pytest.param("amqp", id="rabbitmq", marks=pytest.mark.integration),
    ]
)
def bus_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh bus of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'broker.db'}"
    require_rabbitmq()
    return AMQP_URL


class Names:
    """Unique queue names for one test; on RabbitMQ they are deleted afterwards."""

    def __init__(self) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.queues: list[str] = []

    def __call__(self, suffix: str) -> str:
        name = f"{self.prefix}.{suffix}"
        self.queues += [name, dead_letter_queue(name)]
        return name


@pytest.fixture
def names(bus_url: str) -> Iterator[Names]:
    names = Names()
    yield names
    if bus_url.startswith("amqp"):
        import kombu  # noqa: PLC0415

        with kombu.Connection(bus_url) as connection:
            channel = connection.channel()
            for queue in names.queues:
                channel.queue_delete(queue)


@pytest.fixture
def open_test_bus(bus_url: str) -> Iterator[Callable[[], Bus]]:
    """Opens a bus on the test's broker (again, to simulate a restart); all closed at the end."""
    opened: list[Bus] = []

    def opener() -> Bus:
        opened.append(open_bus(bus_url))
        return opened[-1]

    yield opener
    for bus in opened:
        bus.close()


@pytest.fixture
def bus(open_test_bus: Callable[[], Bus]) -> Bus:
    return open_test_bus()


def declare(bus: Bus, *queues: str) -> None:
    bus.declare(Topology(queues=tuple(QueueSpec(q) for q in queues)))


def collect(
    bus: Bus,
    queue: str,
    count: int,
    *,
    timeout: float = 10.0,
    batch_size: int = 100,
    batch_wait_s: float = 0.01,
    decide: Callable[[Message], Disposition] = lambda _: ACK,
    batches: list[int] | None = None,
) -> list[Message]:
    """Consume until ``count`` messages arrived (or ``timeout``), settling each with ``decide``."""
    got: list[Message] = []
    stop = threading.Event()

    def handler(batch: list[Message]) -> list[Disposition]:
        got.extend(batch)
        if batches is not None:
            batches.append(len(batch))
        if len(got) >= count:
            stop.set()
        return [decide(m) for m in batch]

    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        bus.consume(queue, handler, batch_size=batch_size, batch_wait_s=batch_wait_s, stop=stop)
    finally:
        timer.cancel()
    return got


class Consumer(threading.Thread):
    """``bus.consume`` in a background thread, stopped (and joined) by ``stop()``."""

    def __init__(self, bus: Bus, queue: str, handler: Callable[[list[Message]], list[Disposition]]):
        super().__init__(daemon=True)
        self.bus, self.queue, self.handler = bus, queue, handler
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.bus.consume(
                self.queue, self.handler, batch_size=10, batch_wait_s=0.01, stop=self.halt
            )
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self.halt.set()
        self.join(10)
        assert not self.is_alive()
        if self.error:
            raise self.error


@pytest.fixture
def amqp_bus() -> Iterator[AmqpBus]:
    """A bus on the real RabbitMQ (for tests of what only that backend does)."""
    require_rabbitmq()
    bus = open_bus(AMQP_URL)
    assert isinstance(bus, AmqpBus)
    yield bus
    bus.close()
