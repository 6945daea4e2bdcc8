"""Fixtures: the runtime over the test kit, on the embedded bus and on the real RabbitMQ."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters._testkit import SinkServer, kit_registry, write_kit_project
from adapters._transports.http import http_connector
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings
from tests.services import AMQP_URL, delete_queues, require_rabbitmq


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail the test when it does not in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def free_port() -> int:
    """A loopback port nothing listens on (a destination that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.integration),
    ]
)
def bus_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The embedded broker in the test's directory, or the real RabbitMQ."""
    if request.param == "rabbitmq":
        require_rabbitmq()
        return AMQP_URL
    return f"sqlite:///{tmp_path}/broker.db"


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with SinkServer() as server:
        yield server


@pytest.fixture
def route_id() -> str:
    return f"kit-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def system() -> str:
    """The test kit's system id for this test: its own queues, even on a shared broker."""
    return f"kit{uuid.uuid4().hex[:8]}"


@pytest.fixture(
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.integration),
    ]
)
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, sink: SinkServer, route_id: str, system: str
) -> Iterator[Settings]:
    if request.param == "rabbitmq":
        require_rabbitmq()
        delete_queues(route_id, system)
        bus = AMQP_URL
    else:
        bus = f"sqlite:///{tmp_path}/broker.db"
    yield Settings(
        bus=bus, store=f"sqlite:///{tmp_path}/store.db", systems={system: {"endpoint": sink.url}}
    )
    if request.param == "rabbitmq":
        delete_queues(route_id, system)


@pytest.fixture
def config_root(tmp_path: Path, route_id: str, system: str) -> Path:
    return write_kit_project(tmp_path / "config", route_id, system)


@pytest.fixture
def services(config_root: Path, settings: Settings, system: str) -> Iterator[Services]:
    project = load_project(config_root, kit_registry(http_connector(system), system))
    assert project.issues == []
    opened = Services.open(project, settings)
    yield opened
    opened.close()
