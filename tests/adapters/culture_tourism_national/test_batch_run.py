"""The daily upload end to end on the embedded bus: canonical cases and decisions published on
the feeds are archived by the runtime, ``ebus batch run`` builds the package of their day from
the archive and uploads it to the loopback ministry, byte for byte the spec's sample package."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from adapters.culture_tourism_national._jobs import PACKAGE_SCHEMAS
from adapters.culture_tourism_national.simulator import CultureTourismSimulator
from runner.bus.topology import feed_target
from runner.cli import app
from runner.engine.codec import encode_envelope
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.settings import load_settings
from runner.stamp import new_message_id, stamp
from runner.stores.archive import ArchiveStore
from schemas import parse_envelope
from tests.adapters.culture_tourism_national._support import (
    PROJECT,
    SECRET,
    at,
    sample_json,
)
from tests.runner.engine.conftest import wait_for

SYSTEM = "culture_tourism_national"
JOB = f"{SYSTEM}.daily_upload"
DAY = dt.date(2024, 3, 5)


@pytest.fixture
def ministry() -> Iterator[CultureTourismSimulator]:
    with CultureTourismSimulator() as simulator:  # the live clock: the job signs with it
        yield simulator


@pytest.fixture
def settings_file(tmp_path: Path, ministry: CultureTourismSimulator) -> Path:
    path = tmp_path / "ebus.yaml"
    settings = {
        "bus": f"sqlite:///{tmp_path}/broker.db",
        "store": f"sqlite:///{tmp_path}/store.db",
        "poll": False,
        "systems": {SYSTEM: {"endpoint": ministry.endpoint, "app_secret": SECRET}},
        "batch": {"schedule": False, "archive_days": 3660},  # the sample day is of 2024
    }
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def _publish(services: Services, day: list[tuple[dict, dt.datetime]]) -> list[str]:
    """Canonical envelopes on their feeds, each received at its time, each sent twice."""
    ids = []
    for data, received in day:
        draft = parse_envelope(data, draft=True)
        envelope = stamp(draft, message_id=new_message_id(received), received_at=received)
        message = encode_envelope(envelope)
        services.bus.publish(feed_target(envelope.schema_name), [message, message])  # a resend
        ids.append(envelope.message_id)
    return ids


def _archive(settings_file: Path, day: list[tuple[dict, dt.datetime]]) -> None:
    """Run the bus while ``day`` is published, until the archive holds it (an archive that
    has run since before the sample day)."""
    services = Services.open(PROJECT, load_settings(settings_file))
    runtime = Runtime(services)
    try:
        ArchiveStore(services.db).begin(PACKAGE_SCHEMAS, at(2024, 3, 1))
        runtime.prepare()
        assert runtime.archive is not None
        assert runtime.archive.schemas == {"enforcement.case.v1", "enforcement.penalty_decision.v1"}
        runtime.start()
        ids = _publish(services, day)
        wait_for(lambda: runtime.archive.store.known_among(ids) == set(ids))
    finally:
        runtime.shutdown()
        services.close()


def _ebus_batch_run(settings_file: Path, day: dt.date) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["batch", "run", JOB, "--date", day.isoformat(), "--config", str(settings_file)]
    )
    return result.exit_code, result.stdout + result.stderr


def test_published_cases_and_decisions_are_uploaded_as_the_package_of_their_day(
    settings_file: Path, ministry: CultureTourismSimulator
):
    sample = sample_json("upload_daily_package-1.input.json")
    later = copy.deepcopy(sample[0])  # a new version of the first case, received on D+1
    later["source_message_id"] = "01HRY9Z9Z9Z9Z9Z9Z9Z9Z9Z9Z9"
    later["payload"]["title"] = "更正后的案件名称"
    received = [at(2024, 3, 5, 9, n) for n in range(4)] + [at(2024, 3, 5, 23, 59, 59)]
    _archive(settings_file, [*zip(sample, received, strict=True), (later, at(2024, 3, 6, 0, 0, 1))])

    code, out = _ebus_batch_run(settings_file, DAY)

    assert code == 0, out
    assert f"{JOB} 2024-03-05: success" in out
    (batch,) = ministry.batches.values()
    assert batch.biz_date == "20240305"
    # byte for byte the spec's package of the sample day: nothing of D+1, each message once
    assert batch.sha256 == sample_json("upload_daily_package-1.signing.json")["zip_sha256"]
    assert batch.status == "SUCCESS"

    code, out = _ebus_batch_run(settings_file, DAY + dt.timedelta(days=1))
    assert code == 0, out
    assert [b.records for b in ministry.batches.values()][1] == (
        ("CASE", later["payload"]["case_code"]),
    )


def test_a_day_past_the_archive_retention_fails_the_run_instead_of_uploading_nothing(
    settings_file: Path, ministry: CultureTourismSimulator
):
    settings = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    settings["batch"]["archive_days"] = 35
    settings_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    _archive(settings_file, [])

    code, out = _ebus_batch_run(settings_file, DAY)

    assert code == 1
    assert "2024-03-05 is older than the archive keeps (35 days)" in out
    assert ministry.batches == {}
