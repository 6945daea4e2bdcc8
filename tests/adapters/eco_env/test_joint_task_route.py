"""The joint-task route (README §4): planned combined inspections with HJ items, from the
inspection feed, pushed to the simulated service through the runtime on the embedded bus."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.eco_env import SPEC
from adapters.eco_env.simulator import SECRET_KEY, USER_NAME, EcoEnvSimulator
from tests.adapters.eco_env._support import sample, sample_json
from tests.adapters.two_laws._feed_route import FeedRun

ROUTE = "eco_env-joint-tasks"
DESTINATION = f"{ROUTE}/eco_env-push_joint_task"


@pytest.fixture
def service() -> Iterator[EcoEnvSimulator]:
    with EcoEnvSimulator() as simulator:
        yield simulator


def _carried_out(envelope: dict[str, Any]) -> dict[str, Any]:
    done = copy.deepcopy(envelope)
    done["source_message_id"] += "-done"
    done["payload"] |= {
        "inspected_at": "2025-06-12T10:00:00+08:00",
        "result": "compliant",
        "findings": None,
    }
    return dict(done)


def _variant(envelope: dict[str, Any], suffix: str, **payload: Any) -> dict[str, Any]:
    other = copy.deepcopy(envelope)
    other["source_message_id"] += suffix
    other["payload"] |= {"inspection_id": other["payload"]["inspection_id"] + suffix, **payload}
    return dict(other)


def test_planned_joint_inspections_with_hj_items_are_pushed_and_only_those(
    tmp_path: Path, service: EcoEnvSimulator
) -> None:
    tasks = [sample_json(f"push_joint_task-{n}.input.json") for n in (1, 2)]
    config = {"endpoint": service.endpoint, "user_name": USER_NAME, "secret_key": SECRET_KEY}
    with FeedRun(tmp_path, SPEC, [ROUTE], config) as run:
        ids = run.publish(
            [
                *tasks,
                _carried_out(tasks[0]),
                _variant(
                    tasks[1], "-SC", items=[{"code": "SCSP-0102", "name": "食品经营许可及公示"}]
                ),
                _variant(tasks[0], "-DR", kind="double_random"),  # one department's 双随机
            ]
        )
        run.wait(lambda: all(run.events(m, "delivered") for m in ids[:2]))
        run.wait(lambda: all(run.destinations(m) for m in ids[2:]))
        assert [run.destinations(m) for m in ids] == [[[DESTINATION]]] * 2 + [[[]]] * 3
        assert run.services.dead_letters.list() == []
        delivered = [
            str(r.detail["record_id"]) for m in ids[:2] for r in run.events(m, "delivered")
        ]
    assert sorted(delivered) == sorted(task.joint_task_id for task in service.tasks)
    assert sorted(task.record_no for task in service.tasks) == sorted(
        t["payload"]["inspection_id"] for t in tasks
    )
    by_record = {task.record_no: task for task in service.tasks}
    for n, envelope in enumerate(tasks, start=1):  # the samples' taskXml, byte for byte
        task = by_record[envelope["payload"]["inspection_id"]]
        assert task.task_xml.encode("utf-8") == sample(f"push_joint_task-{n}.taskxml.xml")
