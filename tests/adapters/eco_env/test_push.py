"""Pushing joint tasks end to end: render, frame, send to the simulator, map the answer (§4, §6)."""

from __future__ import annotations

from contextlib import closing

import pytest

from adapters.eco_env import open_transport
from adapters.eco_env.simulator import EcoEnvSimulator
from runner.adapter_api import Outgoing, RawMessage
from runner.dryrun import render_message
from schemas import DeliveryOutcome
from tests.adapters.eco_env._support import PROJECT, at, mapped, sample, sample_json
from tests.adapters.eco_env.conftest import Clock, make_config


def _rendered(number: int, now_iso: str) -> Outgoing:
    """The call the outbound path makes for sample ``number`` (demo config: the test account;
    its path is the simulator's, whatever port it listens on)."""
    envelope = sample_json(f"push_joint_task-{number}.input.json")
    return render_message(PROJECT, "eco_env", "push_joint_task", [envelope], {"now": now_iso})


def _push(simulator: EcoEnvSimulator, call: Outgoing, **overrides: object) -> RawMessage:
    with closing(open_transport(make_config(simulator, **overrides))) as transport:
        return transport.send(call)


def _outcome(answer: RawMessage) -> DeliveryOutcome:
    outcome = mapped("push_joint_task_response", answer).outcome
    assert outcome is not None
    return outcome


@pytest.fixture
def april_10(clock: Clock) -> EcoEnvSimulator:
    clock.now = at(2025, 4, 10, 9, 15)
    with EcoEnvSimulator(clock=clock, task_sequence_start=7) as simulator:
        yield simulator  # type: ignore[misc]


def test_a_pushed_task_is_accepted_and_its_answer_maps_to_complete(april_10):
    answer = _push(april_10, _rendered(1, "2025-04-10T09:15:00+08:00"))
    assert answer.body == sample("push_joint_task_response-1.xml")
    assert _outcome(answer).model_dump(mode="json") == sample_json(
        "push_joint_task_response-1.expected.json"
    )


def test_the_service_receives_the_task_xml_byte_for_byte(april_10):
    _push(april_10, _rendered(1, "2025-04-10T09:15:00+08:00"))
    [task] = april_10.tasks
    assert task.task_xml.encode("utf-8") == sample("push_joint_task-1.taskxml.xml")
    assert task.items == (
        ("HJ0103", "排污许可证执行情况检查"),
        ("HJ0207", "固体废物贮存处置情况检查"),
    )


def test_a_second_push_of_the_same_record_maps_to_complete_with_code_2001(april_10):
    first = _push(april_10, _rendered(1, "2025-04-10T09:15:00+08:00"))
    again = _push(april_10, _rendered(1, "2025-04-10T09:16:00+08:00"))
    assert again.body == sample("push_joint_task_response-2.xml")
    outcome = _outcome(again)
    assert outcome.model_dump(mode="json") == sample_json(
        "push_joint_task_response-2.expected.json"
    )
    assert outcome.records[0].record_id == _outcome(first).records[0].record_id
    assert len(april_10.tasks) == 1


def test_two_different_records_get_two_joint_task_ids(clock):
    clock.now = at(2025, 6, 10, 14, 0)
    with EcoEnvSimulator(clock=clock) as simulator:
        answers = [_push(simulator, _rendered(n, "2025-06-10T14:00:00+08:00")) for n in (1, 2)]
    ids = [_outcome(answer).records[0].record_id for answer in answers]
    assert ids == ["LHZF-350982-20250610-0001", "LHZF-350521-20250610-0002"]
    assert [task.record_no for task in simulator.tasks] == [
        "JCJL350982202500030001",
        "ZHCYC-350521-2025-0005-01",
    ]


def test_a_push_with_a_wrong_secret_maps_to_batch_failed(clock):
    clock.now = at(2025, 4, 10, 9, 15)
    with EcoEnvSimulator(clock=clock, secret_key="the server's other secret") as simulator:
        answer = _push(simulator, _rendered(1, "2025-04-10T09:15:00+08:00"))
        assert simulator.tasks == []
    assert answer.meta["status"] == "500"
    assert answer.body == sample("push_joint_task_response-3.xml")
    assert _outcome(answer).model_dump(mode="json") == sample_json(
        "push_joint_task_response-3.expected.json"
    )


def test_a_push_signed_eleven_minutes_late_maps_to_batch_failed(april_10):
    answer = _push(april_10, _rendered(1, "2025-04-10T09:26:01+08:00"))
    assert (_outcome(answer).outcome, _outcome(answer).code) == ("batch_failed", "FAULT:Server")
    assert april_10.tasks == []


def test_a_push_during_a_database_timeout_maps_to_batch_retry(april_10):
    april_10.inject_soap("timeout", operation="PushJointTask")
    answer = _push(april_10, _rendered(1, "2025-04-10T09:15:00+08:00"))
    assert (_outcome(answer).outcome, _outcome(answer).code) == ("batch_retry", "FAULT:Server")
    retried = _push(april_10, _rendered(1, "2025-04-10T09:15:30+08:00"))
    assert (_outcome(retried).outcome, _outcome(retried).code) == ("complete", "0")
