"""An ``enrich`` step that merges, on the real bus (embedded and RabbitMQ): the test kit's
penalty decisions get their party's legal representative and address from the 信用福建
register (the credit_fj simulator over loopback) before they are delivered; with the register
down and ``on_unavailable: pass`` they are delivered at once, unenriched and marked so."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters._testkit import SinkServer, kit_adapter, make_subject, write_kit_project
from adapters._transports.http import http_connector
from adapters.credit_fj import SPEC as CREDIT_FJ
from adapters.credit_fj.simulator import DEMO_APP_KEY, DEMO_SECRET, CreditFjPlatform, serve
from runner.adapter_api import RawMessage
from runner.bus import ACK, Disposition, Message, QueueSpec, Topology, feed_binding
from runner.bus.topology import delivery_queue, inbound_queue
from runner.engine.codec import encode_raw
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import REPO_ROOT, load_project
from runner.registry import Registry
from runner.settings import Settings
from tests.runner.engine.conftest import free_port, wait_for
from tests.services import AMQP_URL, delete_named_queues

FEED = "enforcement.penalty_decision.v1"
COUNT = 3
ROUTE = """\
id: {route}
from: {{system: {system}, message: subject}}
steps:
  - enrich:
      name: register
      system: credit_fj
      message: subject_lookup_request
      input: "{{uscc: payload.party.uscc}}"
      merge:
        payload.party.legal_representative: payload.party.legal_representative
        payload.party.address: payload.party.address
      on_unavailable: pass
      retry: {{in_process: 0}}
to:
  - feed: {feed}
  - {{system: {system}, message: deliver, retry: {{attempts: 3, initial: 100ms, max_delay: 300ms}}}}
"""


def _subject(n: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(make_subject(n))
    return data


def _register() -> CreditFjPlatform:
    platform = CreditFjPlatform()
    for n in range(COUNT):
        subject = _subject(n)
        platform.add_subject(
            {
                "TYSHXYDM": subject["uscc"],
                "ZTMC": subject["name"],
                "ZTLX": "1",
                "FDDBR": f"法人{n}",
                "DJZT": "存续（在营、开业、在册）",
                "XYDJ": "A",
                "PJRQ": "2024/01/15",
                "DJJG": "福州市市场监督管理局",
                "ZS": f"福州市鼓楼区测试路{n}号",
                "XZQHDM": "350102",
                "GXSJ": 1709533200000,
            }
        )
    return platform


def _copies(services: Services, queue: str, route: str, count: int) -> list[Message]:
    """The feed copies this route published (a shared broker carries others' too)."""
    got: list[Message] = []
    stop = threading.Event()

    def handler(batch: list[Message]) -> list[Disposition]:
        got.extend(m for m in batch if m.headers.get("x-ebus-route") == route)
        if len(got) >= count:
            stop.set()
        return [ACK] * len(batch)

    thread = threading.Thread(
        target=services.bus.consume, args=(queue, handler), kwargs={"stop": stop}
    )
    thread.start()
    thread.join(30)
    stop.set()
    thread.join(10)
    return got


@pytest.fixture
def run(tmp_path: Path, bus_url: str) -> Iterator[Any]:
    """Run the kit's decisions through the route with the register at ``endpoint``."""
    started: list[tuple[Runtime, Services, list[str]]] = []

    def go(endpoint: str) -> tuple[list[Message], Services]:
        system, route = f"kit{uuid.uuid4().hex[:8]}", f"kit-{uuid.uuid4().hex[:8]}"
        root = write_kit_project(tmp_path / "config", route, system)
        for folder in (Path("mappings", "credit_fj"), Path("mappings", "codes", "credit_fj")):
            shutil.copytree(REPO_ROOT / folder, root / folder)
        text = ROUTE.format(route=route, system=system, feed=FEED)
        (root / "routes" / f"{route}.yaml").write_text(text, encoding="utf-8")
        registry = Registry([kit_adapter(http_connector(system), system), CREDIT_FJ])
        project = load_project(root, registry)
        assert project.issues == []
        sink = SinkServer().__enter__()
        settings = Settings(
            bus=bus_url,
            store=f"sqlite:///{tmp_path}/store.db",
            systems={
                system: {"endpoint": sink.url},
                "credit_fj": {
                    "endpoint": endpoint,
                    "app_key": DEMO_APP_KEY,
                    "app_secret": DEMO_SECRET,
                    "read_timeout_s": 5,
                },
            },
        )
        queues = [
            inbound_queue(system, "subject"),
            delivery_queue(route, "register"),
            delivery_queue(route, f"{system}-deliver"),
            f"ebus.test.{route}",
        ]
        if bus_url == AMQP_URL:
            delete_named_queues(queues)
        services = Services.open(project, settings)
        runtime = Runtime(services, batch_wait_s=0.01)
        started.append((runtime, services, queues))
        runtime.prepare()
        test_queue = QueueSpec(queues[-1])
        services.bus.declare(
            Topology(queues=(test_queue,), bindings=(feed_binding(FEED, queues[-1]),))
        )
        try:
            services.bus.publish(
                queues[0],
                [encode_raw(system, "subject", RawMessage(make_subject(n))) for n in range(COUNT)],
            )
            runtime.start()
            wait_for(lambda: len(sink.stored) == COUNT)
            return _copies(services, queues[-1], route, COUNT), services
        finally:
            sink.__exit__(None, None, None)

    yield go
    for runtime, services, queues in started:
        runtime.shutdown()
        services.close()
        if bus_url == AMQP_URL:
            delete_named_queues(queues)


def _parties(copies: list[Message]) -> list[dict[str, Any]]:
    views = [json.loads(m.body) for m in copies]
    return sorted((v["payload"]["party"] for v in views), key=lambda p: p["uscc"])


def test_the_register_fills_in_each_party_before_delivery(run: Any) -> None:
    with serve(_register()) as simulator:
        copies, services = run(simulator.url)
    parties = _parties(copies)
    assert [p["legal_representative"] for p in parties] == [f"法人{n}" for n in range(COUNT)]
    assert [p["address"] for p in parties] == [f"福州市鼓楼区测试路{n}号" for n in range(COUNT)]
    assert all("x-ebus-unenriched" not in m.headers for m in copies)
    assert [json.loads(m.body)["classification"] for m in copies] == ["L2"] * COUNT  # computed
    assert services.dead_letters.list() == []


def test_with_the_register_down_decisions_are_delivered_at_once_marked_unenriched(
    run: Any,
) -> None:
    copies, services = run(f"http://127.0.0.1:{free_port()}")
    assert [p["legal_representative"] for p in _parties(copies)] == [None] * COUNT
    assert {m.headers.get("x-ebus-unenriched") for m in copies} == {"register"}
    for message in copies:
        events = services.audit.trace(str(message.message_id))
        passed = [e for e in events if e.kind == "routed" and e.destination == "register"]
        assert [e.detail["unenriched"] for e in passed] == ["CONNECTION"]
    assert services.dead_letters.list() == []
