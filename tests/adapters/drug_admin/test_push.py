"""Assigning joint tasks end to end: render, frame, send, map the answer (README §3.4, §5)."""

from __future__ import annotations

import copy
from contextlib import closing

import pytest

from adapters.drug_admin import open_transport
from adapters.drug_admin.simulator import DrugAdminSimulator
from runner.adapter_api import MessageRejected, Outgoing, PermanentError, RawMessage
from schemas import DeliveryOutcome
from tests.adapters.drug_admin._support import (
    Clock,
    at,
    make_config,
    mapped,
    rendered,
    sample,
    sample_json,
)

NOW = "2024-03-08T10:00:00+08:00"


def _task(number: int = 1) -> dict:
    return sample_json(f"assign_joint_task-{number}.input.json")


def _send(simulator: DrugAdminSimulator, call: Outgoing) -> RawMessage:
    with closing(open_transport(make_config(simulator))) as transport:
        return transport.send(call)


def _outcome(answer: RawMessage) -> DeliveryOutcome:
    outcome = mapped("assign_joint_task_response", answer.body).outcome
    assert outcome is not None
    return outcome


@pytest.fixture
def march_8(clock: Clock):
    clock.now = at(2024, 3, 8, 10, 0)
    with DrugAdminSimulator(clock=clock, min_interval_s=0, receipt_start=42) as simulator:
        yield simulator


def test_an_assigned_task_is_accepted_with_the_sample_answer(march_8):
    answer = _send(march_8, rendered(_task(), NOW))
    assert answer.body == sample("assign_joint_task_response-1.xml")
    assert _outcome(answer).model_dump(mode="json") == sample_json(
        "assign_joint_task_response-1.expected.json"
    )
    [task] = march_8.tasks
    assert task.fields["Task/Items/Item[3]/Code"] == "SCSP-0102"
    assert task.fields["Task/CaseCode"] == "FJ3501022024SC3A8E0838"


def test_a_resend_after_a_timeout_has_a_fresh_token_and_answers_1_with_the_same_receipt(march_8):
    first = rendered(_task(), NOW)
    again = rendered(_task(), NOW)
    assert first.body != again.body  # a new nonce and digest each time
    _send(march_8, first)
    answer = _send(march_8, again)
    assert answer.body == sample("assign_joint_task_response-2.xml")
    assert _outcome(answer).model_dump(mode="json") == sample_json(
        "assign_joint_task_response-2.expected.json"
    )
    assert len(march_8.tasks) == 1


def test_the_same_task_no_with_other_content_fails_with_2005(march_8):
    _send(march_8, rendered(_task(), NOW))
    changed = _task()
    changed["payload"]["planned_date"] = "2024-03-18"
    outcome = _outcome(_send(march_8, rendered(changed, NOW)))
    assert (outcome.outcome, outcome.code) == ("batch_failed", "2005")


def test_a_target_outside_the_subject_library_fails_with_2001(clock):
    clock.now = at(2024, 3, 8, 10, 0)
    with DrugAdminSimulator(
        clock=clock, min_interval_s=0, known_subjects={"91350322MA35P6Q72D"}
    ) as sim:
        outcome = _outcome(_send(sim, rendered(_task(), NOW)))
    assert (outcome.outcome, outcome.code, outcome.records) == ("batch_failed", "2001", [])


def test_a_stale_clock_is_message_expired_and_worth_a_retry(march_8):
    outcome = _outcome(_send(march_8, rendered(_task(), "2024-03-08T09:50:00+08:00")))
    assert (outcome.outcome, outcome.code) == ("batch_retry", "E1003")


def test_optional_target_elements_are_omitted_when_null_never_empty(march_8):
    task = _task(2)
    task["payload"]["target"]["legal_representative"] = None
    task["payload"]["target"]["address"] = None
    body = rendered(task, NOW).body
    for omitted in (b"LegalRep", b"EntAddress", b"CaseCode"):
        assert omitted not in body
    assert b"xsi:nil" not in body
    assert _outcome(_send(march_8, rendered(task, NOW))).outcome == "complete"


def test_an_empty_item_list_is_sent_as_an_empty_items_element(march_8):
    task = _task(2)
    task["payload"]["items"] = []
    body = rendered(task, NOW).body
    assert b"<jc:Items/>" in body


def test_a_natural_person_target_is_not_sent():
    task = _task()
    task["payload"]["target"] = {
        "kind": "natural_person",
        "name": "张三",
        "uscc": None,
        "id_type": None,
        "id_number": None,
        "legal_representative": None,
        "address": None,
        "division_code": "350102",
    }
    with pytest.raises(MessageRejected) as raised:
        rendered(task, NOW)
    assert (raised.value.field, raised.value.rule) == (
        "body.Task.Enterprise.EntCreditCode",
        "required",
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("payload", "task_id"), None),
        (("source_system",), "market_reg"),
        (("payload", "inspected_at"), "2024-03-15T09:00:00+08:00"),
    ],
    ids=["plan without task_id", "not from the platform", "already inspected"],
)
def test_what_is_not_a_platform_plan_with_a_task_no_is_not_rendered(path, value):
    task = copy.deepcopy(_task())
    holder = task
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    with pytest.raises((MessageRejected, PermanentError)):
        rendered(task, NOW)
