"""The run ledger and its claim, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from runner.batch import BatchRun, Refused, RunLedger
from runner.batch.ledger import safe_error
from runner.stores import Database
from runner.stores._tables import metadata
from tests.batch.conftest import Clock

JOB = "market_reg.nightly"
DAY = dt.date(2025, 5, 6)
FIRE = dt.datetime.fromisoformat("2025-05-07T01:30:00+08:00")


@pytest.fixture
def clock() -> Clock:
    return Clock("2025-05-07T01:30:00")


@pytest.fixture
def ledger(db: Database, clock: Clock) -> RunLedger:
    return RunLedger(db, lease_s=600, clock=clock)


def _claimed(result: BatchRun | Refused) -> BatchRun:
    assert isinstance(result, BatchRun), result
    return result


def _refused(result: BatchRun | Refused) -> Refused:
    assert isinstance(result, Refused), result
    return result


def test_the_ledger_table_lives_on_the_stores_metadata(db: Database):
    assert "ebus_batch_runs" in metadata.tables
    RunLedger(db)
    with Database(db.engine) as again:  # the table exists: a second ledger opens on it
        RunLedger(again)


def test_a_claim_records_a_queued_first_attempt(ledger: RunLedger, clock: Clock):
    run = _claimed(ledger.claim(JOB, DAY, trigger="manual", owner="host-a:1"))
    assert (run.job, run.date, run.attempt, run.state) == (JOB, DAY, 1, "queued")
    assert (run.trigger, run.owner, run.claimed_at) == ("manual", "host-a:1", clock.now)
    assert run.started_at is None
    assert run.finished_at is None


def test_a_run_moves_through_running_to_success_with_its_count(ledger: RunLedger, clock: Clock):
    run = _claimed(ledger.claim(JOB, DAY, trigger="manual"))
    ledger.start(run.id)
    assert ledger.get(run.id).state == "running"
    clock.set("2025-05-07T01:31:00")
    ledger.heartbeat(run.id, emitted=40)
    assert ledger.get(run.id).emitted == 40
    clock.set("2025-05-07T01:35:00")
    ledger.finish(run.id, "success", emitted=120, error=None)
    done = ledger.get(run.id)
    assert (done.state, done.emitted, done.error) == ("success", 120, None)
    assert done.finished_at == clock.now


def test_a_date_that_succeeded_is_not_claimed_again(ledger: RunLedger):
    run = _claimed(ledger.claim(JOB, DAY, trigger="manual"))
    ledger.finish(run.id, "success", emitted=1, error=None)
    refused = _refused(ledger.claim(JOB, DAY, trigger="schedule", scheduled_for=FIRE))
    assert refused.reason == "succeeded"
    assert refused.run is not None
    assert refused.run.id == run.id
    assert "--force" in refused.describe()


def test_force_runs_a_succeeded_date_again_as_the_next_attempt(ledger: RunLedger):
    first = _claimed(ledger.claim(JOB, DAY, trigger="manual"))
    ledger.finish(first.id, "success", emitted=1, error=None)
    again = _claimed(ledger.claim(JOB, DAY, trigger="manual", force=True))
    assert again.attempt == 2
    other_day = _claimed(ledger.claim(JOB, DAY + dt.timedelta(days=1), trigger="manual"))
    assert other_day.attempt == 1


def test_a_live_run_blocks_every_other_claim_even_forced(ledger: RunLedger, clock: Clock):
    run = _claimed(ledger.claim(JOB, DAY, trigger="manual"))
    ledger.start(run.id)
    clock.set("2025-05-07T01:39:00")  # within the lease of 10 minutes
    for force in (False, True):
        refused = _refused(ledger.claim(JOB, DAY, trigger="manual", force=force))
        assert refused.reason == "active"
    assert ledger.count(JOB, DAY) == 1


def test_a_run_not_heard_from_for_the_lease_is_abandoned_and_no_longer_blocks(
    ledger: RunLedger, clock: Clock
):
    run = _claimed(ledger.claim(JOB, DAY, trigger="manual", owner="dead-host:7"))
    ledger.start(run.id)
    clock.set("2025-05-07T01:41:00")  # 11 minutes without a heartbeat
    second = _claimed(ledger.claim(JOB, DAY, trigger="manual"))
    assert second.attempt == 2
    old = ledger.get(run.id)
    assert old.state == "failed"
    assert old.error == "abandoned: dead-host:7 not heard from for 660 s"


def test_a_heartbeat_keeps_a_long_run_alive(ledger: RunLedger, clock: Clock):
    run = _claimed(ledger.claim(JOB, DAY, trigger="manual"))
    ledger.start(run.id)
    for minute in (8, 16, 24):
        clock.set(f"2025-05-07T01:{30 + minute}:00")
        ledger.heartbeat(run.id)
    assert _refused(ledger.claim(JOB, DAY, trigger="manual")).reason == "active"


def test_a_scheduled_fire_time_gets_its_retries_spaced_by_the_delay(
    ledger: RunLedger, clock: Clock
):
    def claim() -> BatchRun | Refused:
        return ledger.claim(
            JOB, DAY, trigger="schedule", scheduled_for=FIRE, retries=1, retry_delay_s=300
        )

    first = _claimed(claim())
    ledger.finish(first.id, "failed", emitted=0, error="TransientError: not yet")
    clock.set("2025-05-07T01:34:00")
    assert _refused(claim()).reason == "retry_wait"
    clock.set("2025-05-07T01:35:00")
    second = _claimed(claim())
    assert (second.attempt, second.scheduled_for) == (2, FIRE)
    ledger.finish(second.id, "failed", emitted=0, error="TransientError: not yet")
    clock.set("2025-05-07T02:00:00")
    assert _refused(claim()).reason == "exhausted"
    later_fire = FIRE + dt.timedelta(minutes=30)
    third = _claimed(ledger.claim(JOB, DAY, trigger="schedule", scheduled_for=later_fire))
    assert third.attempt == 3  # a later fire time of the same date tries again


def test_concurrent_claims_from_many_connections_give_exactly_one_run(store_url: str):
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[BatchRun | Refused] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        with Database.open(store_url) as own:
            ledger = RunLedger(own)
            barrier.wait()
            result = ledger.claim(
                JOB, DAY, trigger="schedule", scheduled_for=FIRE, owner=f"proc-{n}"
            )
            with lock:
                results.append(result)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [r for r in results if isinstance(r, BatchRun)]
    assert len(results) == workers
    assert len(claimed) == 1
    assert all(r.reason == "active" for r in results if isinstance(r, Refused))


def test_recent_runs_are_listed_newest_first_per_job_or_all(ledger: RunLedger):
    for n in range(3):
        run = _claimed(ledger.claim(JOB, DAY + dt.timedelta(days=n), trigger="manual"))
        ledger.finish(run.id, "success", emitted=n, error=None)
    _claimed(ledger.claim("other.job", DAY, trigger="manual"))
    assert [r.date.day for r in ledger.runs(JOB)] == [8, 7, 6]
    assert [r.job for r in ledger.runs(limit=2)] == ["other.job", JOB]
    assert [r.emitted for r in ledger.runs(JOB, DAY + dt.timedelta(days=1))] == [1]


def test_a_recorded_error_never_holds_an_id_number_or_a_phone():
    error = ValueError("party 350102199003071234 phone 13912345678 refused " + "x" * 2000)
    text = safe_error(error)
    assert "350102199003071234" not in text
    assert "13912345678" not in text
    assert text.startswith("ValueError: party 350102********1234 phone 139****5678")
    assert len(text) <= 1000
