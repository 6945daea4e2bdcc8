"""``runner.batch.outcomes``: a batch job's answer settled as a delivery outcome, on a real
(embedded) store, with the national daily upload's spec answers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.culture_tourism_national import SPEC
from runner.adapter_api import RawMessage
from runner.batch import find_job, job_registry
from runner.batch.jobs import Job
from runner.batch.outcomes import Memory, is_answer, settle_answer
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings
from tests.conftest import SPECS

SYSTEM = "culture_tourism_national"
SAMPLES = SPECS / "systems" / SYSTEM / "samples"
DAY = dt.date(2024, 3, 6)
PARTIAL_RECORDS = [["CASE", "FJ3502002024WL38228539"], ["DECISION", "厦文旅罚字〔2024〕第008号"]]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={SYSTEM: dict(SPEC.demo_config)},
    )
    opened = Services.open(load_project(), settings)
    yield opened
    opened.close()


@pytest.fixture
def job(services: Services) -> Job:
    return find_job(job_registry(services.project.registry, [SYSTEM]), "daily_upload")


class Facts:
    """The run's durable facts, in memory."""

    def __init__(self) -> None:
        self.facts: dict[str, dict[str, Any]] = {}

    @property
    def memory(self) -> Memory:
        return self.facts.get, self.facts.__setitem__


def _answer(name: str, **meta: str) -> RawMessage:
    return RawMessage((SAMPLES / name).read_bytes(), meta=meta)


def test_only_answer_message_types_are_settled(services: Services):
    assert is_answer(services, SYSTEM, "query_batch_result")
    assert is_answer(services, SYSTEM, "upload_daily_package_response")
    assert not is_answer(services, SYSTEM, "download_blacklist")


def test_a_refused_record_is_dead_lettered_once_with_its_code_and_reason(
    services: Services, job: Job
):
    calls = json.dumps([{}, {"reason": "DECISION 厦文旅罚字〔2024〕第008号: E204 不匹配"}])
    raw = _answer(
        "query_batch_result-3.xml",
        package_records=json.dumps(PARTIAL_RECORDS),
        call_records=calls,
    )
    facts = Facts()

    first = settle_answer(services, job, DAY, "query_batch_result", raw, facts.memory)
    again = settle_answer(services, job, DAY, "query_batch_result", raw, facts.memory)

    assert first.outcome is not None
    assert first.outcome.outcome == "partial"
    assert (first.accepted, first.rejected, first.retry, first.first_time) == (1, 1, 0, True)
    assert (again.accepted, again.rejected, again.first_time) == (1, 1, False)
    (letter,) = services.dead_letters.list(system=SYSTEM)
    stored = services.dead_letters.get(letter.id)
    assert stored is not None
    assert (stored.stage, stored.rule, stored.destination) == ("delivery", "E204", job.id)
    assert stored.reason == (
        "culture_tourism_national query_batch_result: the peer refused record 2 of 2 with code "
        "E204: DECISION 厦文旅罚字〔2024〕第008号: E204 不匹配"
    )
    # no canonical message named for the record: the body says which record it was
    assert json.loads(stored.body) == {"record_id": "厦文旅罚字〔2024〕第008号", "code": "E204"}


def test_an_answer_its_mapping_refuses_is_dead_lettered_as_inbound(services: Services, job: Job):
    raw = _answer("query_batch_result-2.xml")  # SUCCESS, but which records the package held?
    facts = Facts()

    settled = settle_answer(services, job, DAY, "query_batch_result", raw, facts.memory)
    settle_answer(services, job, DAY, "query_batch_result", raw, facts.memory)

    assert settled.outcome is None
    (letter,) = services.dead_letters.list(system=SYSTEM)
    assert (letter.stage, letter.rule) == ("inbound", "request_unknown")


def test_a_pending_answer_counts_no_record(services: Services, job: Job):
    raw = _answer("query_batch_result-1.xml")
    settled = settle_answer(services, job, DAY, "query_batch_result", raw, Facts().memory)
    assert settled.outcome is not None
    assert settled.outcome.outcome == "pending"
    assert (settled.accepted, settled.rejected, settled.retry) == (0, 0, 0)
    assert services.dead_letters.list(system=SYSTEM) == []
