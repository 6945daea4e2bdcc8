"""Fixtures: the bus on its embedded SQLite broker with only online_hall connected, its runtime
and the webhook endpoint on a free loopback port."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.online_hall import SPEC
from adapters.online_hall.simulator import DEMO_SECRET
from runner.bus import ACK, Disposition, Message
from runner.bus.topology import QueueSpec, Topology, feed_binding
from runner.engine.codec import decode_envelope
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import REPO_ROOT, load_project
from runner.registry import Registry
from runner.settings import Settings, WebhookSettings

FEEDS = ("enforcement.license_decision.v1", "enforcement.delivery_receipt.v1")
SUBSCRIBER = "test.online_hall.subscriber"
"""A queue bound to both feeds: what a downstream consumer would receive."""


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail the test when it does not in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def feed_messages(services: Services, count: int, timeout: float = 30.0) -> list[dict]:
    """Wait until the subscriber queue holds ``count`` canonical messages; take them all."""
    wait_for(lambda: services.bus.depth(SUBSCRIBER) >= count, timeout)
    time.sleep(0.3)  # anything more that was on its way
    taken: list[dict] = []
    stop = threading.Event()

    def handler(batch: list[Message]) -> list[Disposition]:
        taken.extend(decode_envelope(m).model_dump(mode="json") for m in batch)
        if services.bus.depth(SUBSCRIBER) == 0:
            stop.set()
        return [ACK] * len(batch)

    services.bus.consume(SUBSCRIBER, handler, stop=stop, batch_wait_s=0.05)
    return taken


def _config_root(root: Path) -> Path:
    """online_hall's own mappings, code tables and routes, nothing of other systems."""
    shutil.copytree(REPO_ROOT / "mappings" / "online_hall", root / "mappings" / "online_hall")
    codes = root / "mappings" / "codes" / "online_hall"
    shutil.copytree(REPO_ROOT / "mappings" / "codes" / "online_hall", codes)
    (root / "routes").mkdir()
    for route in (REPO_ROOT / "routes").glob("online_hall-*.yaml"):
        shutil.copy(route, root / "routes" / route.name)
    return root


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    project = load_project(_config_root(tmp_path / "config"), Registry([SPEC]))
    assert project.issues == []
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={"online_hall": {"secret": DEMO_SECRET}},
        webhook=WebhookSettings(port=0, max_body_bytes=256 * 1024),
    )
    opened = Services.open(project, settings)
    bindings = tuple(feed_binding(feed, SUBSCRIBER) for feed in FEEDS)
    opened.bus.declare(Topology(queues=(QueueSpec(SUBSCRIBER),), bindings=bindings))
    yield opened
    opened.close()


@pytest.fixture
def runtime(services: Services) -> Iterator[Runtime]:
    runtime = Runtime(services)
    runtime.prepare()
    assert runtime.webhook is not None
    yield runtime
    runtime.shutdown()


@pytest.fixture
def endpoint(runtime: Runtime) -> str:
    """The base URL of the running webhook endpoint (workers not started yet)."""
    assert runtime.webhook is not None
    runtime.webhook.start()
    return runtime.webhook.url
