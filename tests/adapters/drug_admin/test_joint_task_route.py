"""The joint-task route (README §3.4): the platform's plans of 综合查一次 / 专项 inspections with
drug, device or cosmetics items, from the inspection feed, assigned to the simulated drug line
through the runtime on the embedded bus."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.drug_admin import SPEC
from adapters.drug_admin.simulator import PASSWORD, USER_NAME, DrugAdminSimulator
from tests.adapters.drug_admin._support import sample_json
from tests.adapters.two_laws._feed_route import FeedRun

ROUTE = "drug_admin-joint-tasks"
DESTINATION = f"{ROUTE}/drug_admin-assign_joint_task"


@pytest.fixture
def drug_line() -> Iterator[DrugAdminSimulator]:
    with DrugAdminSimulator(min_interval_s=0) as simulator:
        yield simulator


def _variant(envelope: dict[str, Any], suffix: str, **payload: Any) -> dict[str, Any]:
    other = copy.deepcopy(envelope)
    other["source_message_id"] += suffix
    other["payload"] |= {"task_id": other["payload"]["task_id"] + suffix, **payload}
    return dict(other)


def test_the_platforms_drug_line_plans_are_assigned_and_only_those(
    tmp_path: Path, drug_line: DrugAdminSimulator
) -> None:
    plans = [sample_json(f"assign_joint_task-{n}.input.json") for n in (1, 2)]
    others = [
        _variant(plans[0], "-SC", items=[{"code": "SCSP-0102", "name": "食品经营许可及公示"}]),
        _variant(plans[0], "-DONE", inspected_at="2024-03-15T10:00:00+08:00", result="compliant"),
        _variant(plans[1], "-RC", kind="routine"),
        _variant(plans[1], "-YP") | {"source_system": "drug_admin"},
    ]
    config = {
        "endpoint": drug_line.endpoint,
        "user_name": USER_NAME,
        "password": PASSWORD,
        "request_spacing_s": 0,
    }
    with FeedRun(tmp_path, SPEC, [ROUTE], config) as run:
        ids = run.publish([*plans, *others])
        run.wait(lambda: all(run.events(m, "delivered") for m in ids[:2]))
        run.wait(lambda: all(run.destinations(m) for m in ids[2:]))
        assert [run.destinations(m) for m in ids] == [[[DESTINATION]]] * 2 + [[[]]] * 4
        assert run.services.dead_letters.list() == []
        receipts = [str(r.detail["record_id"]) for m in ids[:2] for r in run.events(m, "delivered")]
    assert sorted(receipts) == sorted(task.receipt_no for task in drug_line.tasks)
    assert sorted(task.task_no for task in drug_line.tasks) == [
        "ZHCYC-350102-2024-0031",
        "ZXJC-350322-2024-0007",
    ]
    modes = {task.task_no: task.fields["Task/TaskMode"] for task in drug_line.tasks}
    assert modes == {"ZHCYC-350102-2024-0031": "6", "ZXJC-350322-2024-0007": "3"}
