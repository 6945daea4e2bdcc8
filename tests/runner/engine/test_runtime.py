"""The runtime end to end, on the embedded bus and the real RabbitMQ: inbound, mapping,
fan-out, delivery, retries, dead letters, audit."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from adapters._simulators.http import Fault
from adapters._testkit import SinkServer, make_subject
from runner.adapter_api import RawMessage
from runner.bus.topology import inbound_queue
from runner.engine.codec import encode_raw
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.replay import replay
from tests.runner.engine.conftest import wait_for


def _publish(services: Services, bodies: Sequence[bytes]) -> None:
    (system,) = services.project.registry.ids()
    services.bus.publish(
        inbound_queue(system, "subject"),
        [encode_raw(system, "subject", RawMessage(body)) for body in bodies],
    )


def _prepared(services: Services) -> Runtime:
    runtime = Runtime(services)
    runtime.prepare()  # declares the queues
    return runtime


def _run_until(runtime: Runtime, condition, timeout: float = 30.0) -> None:
    runtime.start()
    try:
        wait_for(condition, timeout)
    finally:
        runtime.shutdown()


def test_messages_flow_from_inbound_to_the_destination_once_each(
    services: Services, sink: SinkServer
):
    runtime = _prepared(services)
    _publish(services, [make_subject(n) for n in range(300)])
    runtime.start()
    try:
        wait_for(lambda: len(sink.stored) == 300)
    finally:
        runtime.shutdown()
    assert max(sink.calls.values()) == 1
    report = services.audit.verify()
    assert report.ok
    assert report.records_checked >= 300 * 2  # mapped and delivered, at least


def test_a_resent_source_message_keeps_its_message_id_and_is_not_stored_twice(
    services: Services, sink: SinkServer
):
    runtime = _prepared(services)
    runtime.start()
    try:
        _publish(services, [make_subject(7)])
        wait_for(lambda: len(sink.stored) == 1)
        (message_id,) = sink.stored
        _publish(services, [make_subject(7)])

        def mapped_twice() -> bool:
            return [r.kind for r in services.audit.trace(message_id)].count("mapped") == 2

        wait_for(mapped_twice)
        time.sleep(0.5)  # give a (wrong) second delivery the time to happen
    finally:
        runtime.shutdown()
    assert sink.calls[message_id] == 1  # the worker skipped it: already delivered


BAD_INPUTS = [
    pytest.param(b'{"id": 1, "name": ', "malformed_json", id="malformed JSON"),
    pytest.param(b"\xff\xfe\x00{", "undecodable", id="undecodable bytes"),
    pytest.param(
        make_subject(2).replace(b'"uscc": "', b'"uscc": "X'),
        "uscc_length",
        id="a failed identifier check",
    ),
    pytest.param(
        b'{"id": 4, "decided": "2025-05-06T09:30:00", "case": 1}',
        "required",
        id="required fields missing",
    ),
    pytest.param(b'{"x": "' + b"a" * (9 * 1024 * 1024) + b'"}', "too_large", id="a 9 MiB payload"),
    pytest.param(b'{"id": 5, "x": NaN}', "malformed_json", id="a NaN constant"),
]


@pytest.mark.parametrize(("body", "rule"), BAD_INPUTS)
def test_bad_input_is_dead_lettered_with_its_rule_and_the_next_message_is_delivered(
    services: Services, sink: SinkServer, body: bytes, rule: str
):
    runtime = _prepared(services)
    _publish(services, [body, make_subject(3)])
    _run_until(runtime, lambda: len(sink.stored) == 1)
    (letter,) = services.dead_letters.list()
    assert letter.rule == rule
    assert letter.reason.startswith(f"{services.project.registry.ids()[0]} subject")
    stored = services.dead_letters.get(letter.id)
    assert stored is not None
    assert stored.body == body  # nothing lost: the raw message is kept for replay


def test_a_permanent_refusal_is_dead_lettered_after_one_attempt(
    services: Services, sink: SinkServer
):
    sink.refuse()
    runtime = _prepared(services)
    _publish(services, [make_subject(1)])
    _run_until(runtime, lambda: len(services.dead_letters.list()) == 1)
    (letter,) = services.dead_letters.list()
    stored = services.dead_letters.get(letter.id)
    assert stored is not None
    assert (stored.stage, stored.rule, len(stored.attempts)) == ("delivery", "E400", 1)
    assert sink.stored == set()


def test_a_destination_down_for_a_while_gets_everything_in_order_per_case(
    services: Services, sink: SinkServer
):
    # tests/runner/engine/test_delivery_order.py hands delayed messages back in the worst order
    sink.server.inject(Fault("status", status=503), times=6)
    runtime = _prepared(services)
    _publish(services, [make_subject(n, cases=3) for n in range(30)])
    _run_until(runtime, lambda: len(sink.stored) == 30, timeout=60)
    assert max(sink.calls.values()) == 1
    for numbers in sink.order.values():
        # the worker errors say why, if a failure sent messages back out of order
        assert numbers == sorted(numbers), [repr(e)[:300] for e in runtime.errors]
    kinds = [r.kind for key in sink.stored for r in services.audit.trace(key)]
    assert "retried" in kinds
    assert kinds.count("delivered") == 30
    assert services.dead_letters.list() == []


def test_a_replayed_dead_letter_is_delivered_once_the_destination_accepts_it(
    services: Services, sink: SinkServer
):
    sink.refuse()
    runtime = _prepared(services)
    _publish(services, [make_subject(1), b"not json"])
    runtime.start()
    try:
        wait_for(lambda: len(services.dead_letters.list()) == 2)
        sink.accept()
        ids = [letter.id for letter in services.dead_letters.list()]
        results = replay(services.bus, services.dead_letters, services.audit, ids)
        wait_for(lambda: len(sink.stored) == 1)
    finally:
        runtime.shutdown()
    assert sorted(r.queue or "" for r in results)[0].startswith("ebus.deliver.")
    # the malformed one comes back to inbound and is dead-lettered again, with its reason
    statuses = sorted(letter.status for letter in services.dead_letters.list())
    assert statuses == ["dead", "replayed", "replayed"]
    assert replay(services.bus, services.dead_letters, services.audit, ids[:1])[0].skipped


def test_a_re_read_of_a_dead_lettered_message_is_not_tried_again_but_a_replay_is(
    services: Services, sink: SinkServer
):
    sink.refuse()
    runtime = _prepared(services)
    runtime.start()
    try:
        _publish(services, [make_subject(5)])
        wait_for(lambda: len(services.dead_letters.list()) == 1)
        calls = sum(sink.calls.values())
        _publish(services, [make_subject(5)])  # the source sends it again (a re-read)
        wait_for(lambda: services.bus.depth(inbound_queue(system_of(services), "subject")) == 0)
        time.sleep(1.0)
        assert len(services.dead_letters.list()) == 1  # not dead-lettered a second time
        assert sum(sink.calls.values()) == calls  # and the destination was not called
        sink.accept()
        (letter,) = services.dead_letters.list()
        replay(services.bus, services.dead_letters, services.audit, [letter.id])
        wait_for(lambda: len(sink.stored) == 1)
    finally:
        runtime.shutdown()


def system_of(services: Services) -> str:
    (system,) = services.project.registry.ids()
    return system
