"""The daily upload's answers become delivery outcomes on the embedded bus, against the
loopback ministry: the package and every record it accepted are audited as delivered, a record
it refused is dead-lettered with the ministry's code and the code's meaning, a package it
refused as a whole is audited as ``batch_failed``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.culture_tourism_national.simulator import CultureTourismSimulator
from runner.batch import RunLedger, find_job, job_registry
from runner.batch.runs import RunResult, run_job
from runner.engine.services import Services
from runner.settings import load_settings
from runner.stores._tables import audit_log
from runner.stores.archive import ArchiveStore
from tests.adapters.culture_tourism_national._support import PROJECT, at, sample_json
from tests.adapters.culture_tourism_national.test_batch_run import (
    _archive,
    ministry,
    settings_file,
)

__all__ = ["ministry", "settings_file"]  # fixtures of the upload test, shared

SYSTEM = "culture_tourism_national"
JOB = f"{SYSTEM}.daily_upload"
DAY = dt.date(2024, 3, 5)
REFUSED = "泉文执罚字〔2024〕第003号"


@pytest.fixture
def services(settings_file: Path) -> Iterator[Services]:
    sample = sample_json("upload_daily_package-1.input.json")
    _archive(
        settings_file, list(zip(sample, [at(2024, 3, 5, 9, n) for n in range(5)], strict=True))
    )
    opened = Services.open(PROJECT, load_settings(settings_file))
    yield opened
    opened.close()


def _run(services: Services) -> RunResult:
    job = find_job(job_registry(services.project.registry, services.settings.systems), JOB)
    return run_job(services, RunLedger(services.db), job, DAY, trigger="manual")


def _events(services: Services, kind: str) -> list[dict[str, Any]]:
    with services.db.read() as conn:
        query = select(audit_log).where(audit_log.c.kind == kind, audit_log.c.system == SYSTEM)
        rows = [dict(row) for row in conn.execute(query.order_by(audit_log.c.seq)).mappings()]
    for row in rows:
        if isinstance(row["detail"], str):
            row["detail"] = json.loads(row["detail"])
    return rows


def _archived(services: Services) -> dict[str, dict[str, Any]]:
    """The sample day's envelopes by their record id (case code or decision number)."""
    day = ArchiveStore(services.db).day(["enforcement.penalty_decision.v1"], DAY)
    day += ArchiveStore(services.db).day(["enforcement.case.v1"], DAY)
    return {e["payload"].get("decision_no") or e["payload"]["case_code"]: e for e in day}


def test_a_refused_record_is_dead_lettered_with_the_ministrys_code_and_the_rest_delivered(
    services: Services, ministry: CultureTourismSimulator
):
    ministry.refuse_records[REFUSED] = "E103"

    result = _run(services)

    assert result.state == "success", result.error
    (batch,) = ministry.batches.values()
    assert batch.status == "PARTIAL"
    envelopes = _archived(services)
    (letter,) = services.dead_letters.list(system=SYSTEM)
    stored = services.dead_letters.get(letter.id)
    assert stored is not None
    assert (stored.stage, stored.rule, stored.destination) == ("delivery", "E103", JOB)
    assert stored.message_type == "query_batch_result"
    assert "E103 统一社会信用代码/身份证号校验失败" in stored.reason
    assert stored.message_id == envelopes[REFUSED]["message_id"]
    assert json.loads(stored.body)["payload"]["decision_no"] == REFUSED
    # the package (received, its batchId) and the 4 records the ministry accepted
    delivered = _events(services, "delivered")
    assert [e["detail"]["record_id"] for e in delivered] == [
        batch.batch_id,
        *[record_id for _, record_id in batch.records if record_id != REFUSED],
    ]
    assert all(e["destination"] == JOB for e in delivered)
    assert {e["message_id"] for e in delivered[1:]} == {
        envelopes[record_id]["message_id"] for _, record_id in batch.records if record_id != REFUSED
    }
    (dead,) = _events(services, "dead_lettered")
    assert dead["case_code"] == envelopes[REFUSED]["case_code"]
    answers = [e["detail"] for e in _events(services, "received")]
    assert [(a["outcome"], a["accepted"], a["rejected"]) for a in answers] == [
        ("complete", 1, 0),
        ("partial", 4, 1),
    ]
    # done: a second run asks nothing and records nothing again
    assert _run(services).state == "skipped"
    assert len(services.dead_letters.list(system=SYSTEM)) == 1


def test_a_package_refused_as_a_whole_is_audited_and_fails_the_run(
    services: Services, ministry: CultureTourismSimulator
):
    ministry.fail_packages["20240305"] = "E002"

    result = _run(services)

    assert result.state == "failed"
    assert "E002" in (result.error or "")
    answers = [e["detail"] for e in _events(services, "received")]
    assert [(a["outcome"], a["code"]) for a in answers] == [
        ("complete", "0"),
        ("batch_failed", "E002"),
    ]
    assert services.dead_letters.list(system=SYSTEM) == []  # the date is uploaded anew
