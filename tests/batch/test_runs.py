"""One run of a job in this process: the real embedded bus, the ledger, the job's context."""

from __future__ import annotations

import datetime as dt

import pytest

from runner.batch import RunLedger, find_job, job_registry
from runner.batch.runs import run_job
from runner.bus.topology import inbound_queue
from runner.engine.services import Services
from tests.batch.conftest import JobScript, transient

DAY = dt.date(2025, 5, 6)


@pytest.fixture
def ledger(services: Services) -> RunLedger:
    return RunLedger(services.db, lease_s=1.0)


def _job(services: Services, name: str = "daily"):
    return find_job(job_registry(services.project.registry, services.settings.systems), name)


def test_a_run_emits_through_the_bus_and_records_its_count(
    services: Services, ledger: RunLedger, script: JobScript, system: str
):
    result = run_job(services, ledger, _job(services), DAY, trigger="manual")
    assert result.state == "success"
    assert result.emitted == 3
    assert services.bus.depth(inbound_queue(system, "subject")) == 3
    assert script.calls == [("daily", DAY)]
    (run,) = ledger.runs()
    assert (run.state, run.emitted, run.attempt, run.trigger) == ("success", 3, 1, "manual")
    assert run.started_at is not None
    assert run.finished_at is not None


def test_a_job_keeps_its_own_cursor_apart_from_the_systems_poller(
    services: Services, ledger: RunLedger, system: str
):
    services.cursors.set(f"poll:{system}", {"page": 9})
    run_job(services, ledger, _job(services), DAY, trigger="manual")
    run_job(services, ledger, _job(services), DAY + dt.timedelta(days=1), trigger="manual")
    assert services.cursors.get(f"batch:{system}.daily") == {"runs": 2, "last": "2025-05-07"}
    assert services.cursors.get(f"poll:{system}") == {"page": 9}


def test_a_failed_run_is_recorded_with_a_masked_reason_and_returned(
    services: Services, ledger: RunLedger, script: JobScript
):
    script.fail = transient("no manifest for party 350102199003071234 yet")
    result = run_job(services, ledger, _job(services), DAY, trigger="manual")
    assert result.state == "failed"
    assert result.error == "TransientError: no manifest for party 350102********1234 yet"
    assert ledger.runs()[0].error == result.error
    script.fail = None
    again = run_job(services, ledger, _job(services), DAY, trigger="manual")
    assert again.state == "success"
    assert again.run is not None
    assert again.run.attempt == 2


def test_a_date_that_succeeded_is_skipped_unless_forced(
    services: Services, ledger: RunLedger, script: JobScript
):
    run_job(services, ledger, _job(services), DAY, trigger="manual")
    skipped = run_job(services, ledger, _job(services), DAY, trigger="manual")
    assert skipped.state == "skipped"
    assert skipped.refused is not None
    assert skipped.refused.reason == "succeeded"
    assert len(script.calls) == 1
    forced = run_job(services, ledger, _job(services), DAY, trigger="manual", force=True)
    assert forced.state == "success"
    assert len(script.calls) == 2


def test_an_interrupted_run_is_recorded_as_failed_and_the_interrupt_goes_on(
    services: Services, ledger: RunLedger, script: JobScript
):
    script.fail = KeyboardInterrupt()  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        run_job(services, ledger, _job(services), DAY, trigger="manual")
    (run,) = ledger.runs()
    assert (run.state, run.error) == ("failed", "interrupted (KeyboardInterrupt)")


def test_a_long_run_keeps_its_lease_with_heartbeats(
    services: Services, ledger: RunLedger, script: JobScript
):
    import threading  # noqa: PLC0415

    script.gate = threading.Event()
    job = _job(services)
    worker = threading.Thread(
        target=run_job, args=(services, ledger, job, DAY), kwargs={"trigger": "manual"}
    )
    worker.start()
    assert script.started.wait(10)
    first = ledger.runs()[0].heartbeat_at
    threading.Event().wait(1.5)  # the lease is 1 s: heartbeats come every 0.25 s
    assert ledger.runs()[0].heartbeat_at > first
    refused = run_job(services, ledger, job, DAY, trigger="manual")
    assert refused.refused is not None
    assert refused.refused.reason == "active"
    script.gate.set()
    worker.join(10)
    assert ledger.runs()[0].state == "success"
