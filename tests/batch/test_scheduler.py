"""The in-process scheduler with a clock the test moves: due, not due, catch-up after a restart,
retries, several schedulers on one store, and its thread in the runtime."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest

from adapters._testkit import SinkServer, write_kit_project
from runner.batch import BatchSettings, job_registry
from runner.batch.scheduler import BatchScheduler, batch_scheduler
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import Project, load_project
from runner.registry import Registry
from runner.settings import Settings
from tests.batch.conftest import Clock, JobScript, batch_adapter, transient
from tests.runner.engine.conftest import wait_for

SETTINGS = BatchSettings(retries=1, retry_delay="10m", tick="30s")


def _scheduler(services: Services, clock: Clock, owner: str = "proc-a") -> BatchScheduler:
    jobs = job_registry(services.project.registry, services.settings.systems)
    return BatchScheduler(services, jobs, SETTINGS, clock=clock, owner=owner)


@pytest.fixture
def clock() -> Clock:
    return Clock("2025-05-06T10:00:00")  # the scheduler first starts at 10:00 on 6 May


def test_nothing_is_due_before_the_first_fire_time_after_the_first_start(
    services: Services, clock: Clock, script: JobScript
):
    scheduler = _scheduler(services, clock)
    assert scheduler.run_pending() == []  # 01:30 today passed before the bus knew the job
    clock.set("2025-05-07T01:29:59")
    assert scheduler.run_pending() == []
    assert script.calls == []


def test_a_due_job_runs_once_for_the_day_before_its_fire_time(
    services: Services, clock: Clock, script: JobScript, system: str
):
    scheduler = _scheduler(services, clock)
    scheduler.run_pending()
    clock.set("2025-05-07T01:30:00")
    (result,) = scheduler.run_pending()
    assert (result.state, result.date, result.emitted) == ("success", dt.date(2025, 5, 6), 3)
    assert result.run is not None
    assert result.run.trigger == "schedule"
    assert result.run.scheduled_for == clock.now
    clock.set("2025-05-07T01:31:00")
    assert scheduler.run_pending() == []  # settled
    assert script.calls == [("daily", dt.date(2025, 5, 6))]


def test_a_missed_run_is_caught_up_once_after_a_restart(
    services: Services, clock: Clock, script: JobScript
):
    _scheduler(services, clock).run_pending()  # first start: 6 May 10:00
    clock.set("2025-05-07T09:00:00")  # down over 01:30 on 7 May, back at 09:00
    restarted = _scheduler(services, clock, owner="proc-a-restarted")
    (result,) = restarted.run_pending()
    assert (result.state, result.date) == ("success", dt.date(2025, 5, 6))
    clock.set("2025-05-07T09:00:30")
    assert restarted.run_pending() == []
    again = _scheduler(services, clock, owner="proc-a-third-start")  # restart once more
    (skipped,) = again.run_pending()
    assert skipped.state == "skipped"
    assert skipped.refused is not None
    assert skipped.refused.reason == "succeeded"
    assert len(script.calls) == 1


def test_only_the_latest_missed_run_is_caught_up(
    services: Services, clock: Clock, script: JobScript
):
    _scheduler(services, clock).run_pending()
    clock.set("2025-05-09T09:00:00")  # missed 7 May and 8 May 01:30
    (result,) = _scheduler(services, clock).run_pending()
    assert result.date == dt.date(2025, 5, 8)
    assert script.calls == [("daily", dt.date(2025, 5, 8))]


def test_a_failed_scheduled_run_is_retried_after_the_delay_then_given_up(
    services: Services, clock: Clock, script: JobScript
):
    scheduler = _scheduler(services, clock)
    scheduler.run_pending()
    script.fail = transient()
    clock.set("2025-05-07T01:30:00")
    assert [r.state for r in scheduler.run_pending()] == ["failed"]
    clock.set("2025-05-07T01:35:00")
    assert [r.refused.reason for r in scheduler.run_pending() if r.refused] == ["retry_wait"]
    clock.set("2025-05-07T01:40:00")
    assert [r.state for r in scheduler.run_pending()] == ["failed"]  # the one retry
    clock.set("2025-05-07T02:30:00")
    assert [r.refused.reason for r in scheduler.run_pending() if r.refused] == ["exhausted"]
    assert scheduler.run_pending() == []  # settled: no more claims for that fire time
    script.fail = None
    clock.set("2025-05-08T01:30:00")
    assert [(r.state, r.date) for r in scheduler.run_pending()] == [
        ("success", dt.date(2025, 5, 7))
    ]
    assert len(script.calls) == 3


def test_a_job_fired_in_a_window_runs_until_its_date_succeeds(
    tmp_path, sink: SinkServer, clock: Clock, script: JobScript, system: str
):
    registry = Registry([batch_adapter(script, system, ("window",))])
    project = load_project(write_kit_project(tmp_path / "w", "w-route", system), registry)
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/wb.db",
        store=f"sqlite:///{tmp_path}/ws.db",
        systems={system: {"endpoint": sink.url}},
    )
    with_services = Services.open(project, settings)
    try:
        scheduler = _scheduler(with_services, clock)
        script.fail = transient()
        for at in ("2025-05-07T01:00:00", "2025-05-07T01:05:00"):
            clock.set(at)
            assert [r.state for r in scheduler.run_pending()] == ["failed"]
        script.fail = None
        clock.set("2025-05-07T01:10:00")
        assert [r.state for r in scheduler.run_pending()] == ["success"]
        clock.set("2025-05-07T01:15:00")
        assert [r.refused.reason for r in scheduler.run_pending() if r.refused] == ["succeeded"]
        runs = scheduler.ledger.runs()
        assert [r.attempt for r in runs] == [3, 2, 1]
        assert {r.date for r in runs} == {dt.date(2025, 5, 6)}
    finally:
        with_services.close()


@pytest.fixture
def second_services(project: Project, settings: Settings) -> Iterator[Services]:
    """Another process's view of the same store and broker (its own connections)."""
    opened = Services.open(project, settings)
    yield opened
    opened.close()


def test_two_schedulers_on_one_store_run_a_date_once(
    services: Services, second_services: Services, clock: Clock, script: JobScript
):
    first = _scheduler(services, clock, owner="proc-a")
    second = _scheduler(second_services, clock, owner="proc-b")
    first.run_pending()
    second.run_pending()
    clock.set("2025-05-07T01:30:00")
    script.gate = threading.Event()
    first.run_pending(background=True)
    assert script.started.wait(10)
    (busy,) = second.run_pending()  # while the first one runs
    assert busy.refused is not None
    assert busy.refused.reason == "active"
    script.gate.set()
    first.join()
    (done,) = second.run_pending()
    assert done.refused is not None
    assert done.refused.reason == "succeeded"
    assert len(script.calls) == 1
    (run,) = first.ledger.runs()
    assert (run.owner, run.state) == ("proc-a", "success")


def test_two_schedulers_racing_at_the_fire_time_run_it_once(
    services: Services, second_services: Services, clock: Clock, script: JobScript
):
    schedulers = [_scheduler(services, clock, "a"), _scheduler(second_services, clock, "b")]
    for scheduler in schedulers:
        scheduler.run_pending()
    clock.set("2025-05-07T01:30:00")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def tick(scheduler: BatchScheduler) -> None:
        barrier.wait()
        outcomes.extend(r.state for r in scheduler.run_pending())

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["skipped", "success"]
    assert len(script.calls) == 1


def test_the_scheduler_waits_for_the_next_fire_time_or_a_tick(services: Services, clock: Clock):
    scheduler = _scheduler(services, clock)
    clock.set("2025-05-07T01:29:50")
    assert scheduler.wait_s() == pytest.approx(10.01)
    clock.set("2025-05-07T01:00:00")
    assert scheduler.wait_s() == 30.0


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        pytest.param({}, True, id="no airflow: the bus schedules"),
        pytest.param({"schedule": False}, False, id="schedule off: by hand only"),
        pytest.param(
            {"airflow": {"url": "http://127.0.0.1:9", "token": "t"}}, False, id="airflow runs them"
        ),
    ],
)
def test_the_runtime_gets_a_scheduler_only_when_the_bus_runs_the_jobs(
    project: Project, settings: Settings, batch: dict, expected: bool
):
    opened = Services.open(project, settings.model_copy(update={"batch": BatchSettings(**batch)}))
    try:
        assert (batch_scheduler(opened) is not None) is expected
    finally:
        opened.close()


def test_no_scheduler_without_a_connected_system_declaring_jobs(
    project: Project, settings: Settings
):
    opened = Services.open(project, settings.model_copy(update={"systems": {}}))
    try:
        assert batch_scheduler(opened) is None
    finally:
        opened.close()


def test_the_runtime_catches_up_a_missed_run_and_the_messages_reach_the_destination(
    services: Services, script: JobScript, sink: SinkServer, system: str
):
    job_id = f"{system}.daily"
    services.cursors.set(f"batch-scheduler:{job_id}", {"since": "2020-01-01T00:00:00+08:00"})
    runtime = Runtime(services)
    runtime.prepare()
    assert runtime.batch is not None
    runtime.start()
    try:
        wait_for(lambda: len(sink.stored) == 3)
    finally:
        runtime.shutdown()
    assert len(script.calls) == 1
    (run,) = runtime.batch.ledger.runs()
    assert (run.job, run.state, run.emitted, run.trigger) == (job_id, "success", 3, "schedule")
