"""Contract: every sample of the drug_admin spec is a test case (README §8).

Inbound answers map to their ``.expected.json`` (in-process and through ``ebus map``); the
outbound ``.input.json`` render to their wire sample byte for byte (``ebus render`` with the
sample's fixed Created and Nonce); the bus's poll requests equal the ``.request.xml`` samples.
These run on their own too: the generic tests/contract suite loads every registered adapter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.drug_admin import SPEC, DrugAdminConfig, query_request
from runner.adapter_api import CallContext
from runner.cli import app
from tests.adapters.drug_admin._support import (
    SAMPLES,
    STAMPED,
    at,
    mapped,
    rendered,
    sample,
    sample_json,
    unstamped,
)

DEMO = DrugAdminConfig.model_validate(dict(SPEC.demo_config))
INBOUND = sorted(
    p
    for p in SAMPLES.glob("*.xml")
    if p.with_name(p.name.removesuffix(".xml") + ".expected.json").exists()
)
RENDERS = [
    pytest.param(
        1,
        "2024-03-08T10:00:00+08:00",
        "Wh8MnjO4TSem4PRRm8LYcA==",
        id="combined task with case_code",
    ),
    pytest.param(
        2,
        "2024-03-11T09:30:00+08:00",
        "xOh6IZBfPbYYfi+p0FSzbA==",
        id="special task without case_code",
    ),
]
REQUESTS = [
    pytest.param(
        "query_inspections",
        "2024-03-05T17:50:00+08:00",
        "jS5bfAH6RumzwtdOkKH2tQ==",
        at(2024, 3, 5, 17, 40, 12),
        id="query_inspections-1",
    ),
    pytest.param(
        "query_penalties",
        "2024-03-06T10:20:00+08:00",
        "G5w+fVoPQsjmsalNfyDDXg==",
        at(2024, 3, 5),
        id="query_penalties-1",
    ),
]


def _message(path: Path) -> str:
    return path.name.split(".")[0].rpartition("-")[0]


def test_every_sample_file_is_covered_by_a_case():
    covered = {p.name for p in INBOUND}
    covered |= {p.with_name(p.name.removesuffix(".xml") + ".expected.json").name for p in INBOUND}
    covered |= {f"assign_joint_task-{n}.{ext}" for n in (1, 2) for ext in ("xml", "input.json")}
    covered |= {f"{m}-1.request.xml" for m in ("query_inspections", "query_penalties")}
    assert covered == {p.name for p in SAMPLES.iterdir()}
    assert len(INBOUND) == 9


def test_the_message_types_are_exactly_the_readme_table():
    assert [(m.id, m.direction) for m in SPEC.messages] == [
        ("query_inspections", "inbound"),
        ("query_penalties", "inbound"),
        ("assign_joint_task", "outbound"),
        ("assign_joint_task_response", "inbound"),
    ]


@pytest.mark.parametrize("path", INBOUND, ids=[p.name for p in INBOUND])
def test_inbound_sample_maps_to_its_expected_output(path: Path):
    result = mapped(_message(path), path.read_bytes())
    expected = sample_json(path.name.removesuffix(".xml") + ".expected.json")
    if isinstance(expected, dict):
        assert result.outcome is not None
        assert result.outcome.model_dump(mode="json") == expected
    else:
        assert result.outcome is None
        assert unstamped(result) == expected
        assert result.rejected == []


@pytest.mark.parametrize("path", INBOUND, ids=[p.name for p in INBOUND])
def test_ebus_map_prints_the_expected_output(path: Path):
    result = CliRunner().invoke(app, ["map", "drug_admin", _message(path), str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    expected = sample_json(path.name.removesuffix(".xml") + ".expected.json")
    if isinstance(expected, dict):
        assert lines == [expected]
    else:
        assert [{k: v for k, v in line.items() if k not in STAMPED} for line in lines] == expected


@pytest.mark.parametrize(("number", "now", "nonce"), RENDERS)
def test_assign_joint_task_renders_the_sample_byte_for_byte(number: int, now: str, nonce: str):
    call = rendered(sample_json(f"assign_joint_task-{number}.input.json"), now, nonce)
    assert call.body == sample(f"assign_joint_task-{number}.xml")
    assert call.headers == {
        "Content-Type": "application/soap+xml; charset=utf-8; "
        'action="http://zhjg.yjj.fujian.gov.cn/ws/jcjc/v1/AssignJointTask"'
    }
    assert (call.method, call.path) == ("POST", "/jcjc/services/InspectionExchange")


@pytest.mark.parametrize(("number", "now", "nonce"), RENDERS)
def test_ebus_render_prints_the_sample_bytes(number: int, now: str, nonce: str):
    source = SAMPLES / f"assign_joint_task-{number}.input.json"
    result = CliRunner().invoke(
        app,
        [
            "render",
            "drug_admin",
            "assign_joint_task",
            str(source),
            "--meta",
            f"now={now}",
            "--meta",
            f"nonce={nonce}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == sample(f"assign_joint_task-{number}.xml")


@pytest.mark.parametrize(("message", "now", "nonce", "since"), REQUESTS)
def test_poll_request_equals_the_request_sample_byte_for_byte(message, now, nonce, since):
    from runner.dryrun import parse_now  # noqa: PLC0415

    call = query_request(message, DEMO, CallContext(now=parse_now(now), nonce=nonce), since, 1, 100)
    assert call.body == sample(f"{message}-1.request.xml")
