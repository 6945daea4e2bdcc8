"""The runtime end to end on the embedded bus: inbound, mapping, fan-out, delivery, audit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters._simulators.http import Fault
from adapters._testkit import SinkServer, kit_registry, make_subject, write_kit_project
from adapters._transports.http import http_connector
from runner.adapter_api import RawMessage
from runner.bus.topology import inbound_queue
from runner.engine.codec import encode_raw
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with SinkServer() as server:
        yield server


@pytest.fixture
def services(tmp_path: Path, sink: SinkServer) -> Iterator[Services]:
    root = write_kit_project(tmp_path / "config")
    project = load_project(root, kit_registry(http_connector("testkit")))
    assert project.issues == []
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={"testkit": {"endpoint": sink.url}},
    )
    opened = Services.open(project, settings)
    yield opened
    opened.close()


def _publish(services: Services, numbers: range | list[int]) -> None:
    services.bus.publish(
        inbound_queue("testkit", "subject"),
        [encode_raw("testkit", "subject", RawMessage(make_subject(n))) for n in numbers],
    )


def test_messages_flow_from_inbound_to_the_destination_once_each(
    services: Services, sink: SinkServer
):
    runtime = Runtime(services)
    runtime.prepare()
    _publish(services, range(200))
    runtime.start()
    try:
        _wait(lambda: len(sink.calls) == 200)
    finally:
        runtime.shutdown()
    assert max(sink.calls.values()) == 1
    assert services.audit.verify().ok


def test_a_resent_source_message_keeps_its_message_id_and_is_not_delivered_twice(
    services: Services, sink: SinkServer
):
    runtime = Runtime(services)
    runtime.prepare()
    runtime.start()
    try:
        _publish(services, [7])
        _wait(lambda: len(sink.calls) == 1)
        (message_id,) = sink.calls
        _publish(services, [7])

        def mapped_twice() -> bool:
            return [r.kind for r in services.audit.trace(message_id)].count("mapped") == 2

        _wait(mapped_twice)
        time.sleep(0.5)  # give a (wrong) second delivery the time to happen
    finally:
        runtime.shutdown()
    assert list(sink.calls.values()) == [1]
    assert services.dead_letters.list() == []


def test_a_malformed_message_is_dead_lettered_and_the_next_one_is_delivered(
    services: Services, sink: SinkServer
):
    runtime = Runtime(services)
    runtime.prepare()
    services.bus.publish(
        inbound_queue("testkit", "subject"),
        [
            encode_raw("testkit", "subject", RawMessage(b'{"id": 1, "name": ')),
            encode_raw(
                "testkit",
                "subject",
                RawMessage(make_subject(2).replace(b'"uscc": "', b'"uscc": "X')),
            ),
            encode_raw("testkit", "subject", RawMessage(make_subject(3))),
        ],
    )
    runtime.start()
    try:
        _wait(lambda: len(sink.calls) == 1)
    finally:
        runtime.shutdown()
    letters = services.dead_letters.list()
    assert sorted(letter.rule or "" for letter in letters) == ["malformed_json", "uscc_length"]
    assert all("testkit subject" in letter.reason for letter in letters)


def test_a_permanent_refusal_is_dead_lettered_after_one_attempt(
    services: Services, sink: SinkServer
):
    sink.refuse()
    runtime = Runtime(services)
    runtime.prepare()
    _publish(services, [1])
    runtime.start()
    try:
        _wait(lambda: len(services.dead_letters.list()) == 1)
    finally:
        runtime.shutdown()
    (letter,) = services.dead_letters.list()
    stored = services.dead_letters.get(letter.id)
    assert stored is not None
    assert stored.stage == "delivery"
    assert len(stored.attempts) == 1
    assert stored.rule == "E400"


def test_a_destination_down_for_a_while_gets_everything_when_it_recovers(
    services: Services, sink: SinkServer
):
    sink.server.inject(Fault("status", status=503), times=6)
    runtime = Runtime(services)
    runtime.prepare()
    _publish(services, range(5))
    runtime.start()
    try:
        _wait(lambda: len(sink.calls) == 5, timeout=30)
    finally:
        runtime.shutdown()
    assert max(sink.calls.values()) == 1
    kinds = [r.kind for key in sink.calls for r in services.audit.trace(key)]
    assert "retried" in kinds
    assert kinds.count("delivered") == 5
    assert services.dead_letters.list() == []
