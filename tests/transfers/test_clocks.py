"""Statutory clocks: how deadlines count, and exactly one overdue alert per missed deadline,
across a restart and with two watchers racing (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable

import pytest

from runner.stores import AuditStore, Database
from runner.transfers import DEADLINES, ClockPolicy, TransferService
from runner.transfers.workflow import Step, check_history, replay_clocks
from schemas.timeutil import SHANGHAI
from tests.transfers.conftest import Clock, sample

T = dt.datetime


def _at(text: str) -> dt.datetime:
    return T.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("key", "event", "due"),
    [
        ("police_filing_review", "2025-05-06T15:20:00", "2025-05-09T23:59:59+08:00"),
        ("transfer_to_police", "2025-06-03T16:00:00", "2025-06-04T16:00:00+08:00"),
        ("hand_over_items", "2025-12-30T23:59:00", "2026-01-02T23:59:59+08:00"),
    ],
    ids=["3日: end of the third calendar day", "24小时: wall clock", "3日 across new year"],
)
def test_deadlines_count_calendar_days_and_wall_clock_hours(key: str, event: str, due: str) -> None:
    assert ClockPolicy().due_at(DEADLINES[key], _at(event)).isoformat() == due  # type: ignore[union-attr]


def test_working_days_skip_weekends_and_holidays_when_configured() -> None:
    policy = ClockPolicy(days="working", holidays=frozenset({dt.date(2025, 5, 5)}))
    due = policy.due_at(DEADLINES["police_filing_review"], _at("2025-05-02T10:00:00"))
    assert due is not None
    assert due.isoformat() == "2025-05-08T23:59:59+08:00"


def test_a_utc_event_counts_its_days_in_shanghai() -> None:
    event = T(2025, 5, 6, 17, 0, tzinfo=dt.UTC)  # 2025-05-07 01:00 in Shanghai
    due = ClockPolicy().due_at(DEADLINES["police_filing_review"], event)
    assert due is not None
    assert due.isoformat() == "2025-05-10T23:59:59+08:00"


def test_the_state_machine_refuses_a_skipped_approval() -> None:
    with pytest.raises(Exception, match="'transferred' is not allowed from 'proposed'"):
        check_history("YS-1", "admin_to_criminal", ["proposed", "transferred"])
    check_history("YS-1", "admin_to_criminal", ["proposed", "approved", "transferred", "filed"])


def test_a_late_receipt_replays_clocks_as_if_it_had_come_on_time() -> None:
    steps = [
        Step("approved", _at("2025-05-06T09:30:00")),
        Step("transferred", _at("2025-05-06T09:58:00")),
        Step("received", _at("2025-05-06T15:20:00")),
        Step("filed", _at("2025-05-09T10:00:00")),
    ]
    clocks = {c.key: c for c in replay_clocks("admin_to_criminal", steps, ClockPolicy())}
    review = clocks["police_filing_review"]
    assert review.closed_at == _at("2025-05-09T10:00:00")
    assert clocks["hand_over_items"].closed_at is None


def _approved_transfer(service: TransferService, clock: Clock) -> str:
    (transfer_id,) = service.handle(
        sample("eco_env/samples/get_case_list_response-2.expected.json")
    )  # type: ignore[misc]
    clock.set("2025-06-03T16:00:00")
    service.decide(str(transfer_id), "approved", by="局长 林某")
    return str(transfer_id)


def _alerts(service: TransferService) -> list[dict[str, object]]:
    return [json.loads(r["body"]) for r in service.store.outbox(kind="transfer_deadline_missed")]


def test_a_missed_transfer_deadline_raises_one_alert_even_after_a_restart(
    store_url: str, make_service: Callable[[Database], TransferService], clock: Clock
) -> None:
    with Database.open(store_url) as db:
        service = make_service(db)
        transfer_id = _approved_transfer(service, clock)
        clock.set("2025-06-04T15:59:59")
        assert service.watch() == []
        clock.set("2025-06-04T16:00:01")
        (alert_id,) = service.watch()
        assert service.watch() == []
    with Database.open(store_url) as db:  # the process restarts
        service = make_service(db)
        clock.set("2025-06-05T09:00:00")
        assert service.watch() == []
        (alert,) = _alerts(service)
        assert alert["alert_id"] == alert_id
        assert alert["deadline"]["basis"] == "《行政执法机关移送涉嫌犯罪案件的规定》第五条第二款"  # type: ignore[index]
        assert alert["transfer_id"] == transfer_id
        assert alert["status"] == "approved"
        (overdue,) = service.store.overdue(clock())
        assert overdue.key == "transfer_to_police"
        trace = AuditStore(db).trace(str(alert["case_code"]))
        assert [r.detail["alert_id"] for r in trace if r.kind == "transfer.overdue"] == [alert_id]


def test_two_watchers_racing_raise_each_missed_deadline_once(
    store_url: str, make_service: Callable[[Database], TransferService], clock: Clock
) -> None:
    with Database.open(store_url) as db:
        _approved_transfer(make_service(db), clock)
    clock.set("2025-06-10T00:00:00")  # the approval clock is closed; the transfer clock is not
    databases = [Database.open(store_url) for _ in range(2)]
    watchers = [make_service(d) for d in databases]
    start = threading.Barrier(2)
    raised: list[list[str]] = [[], []]

    def run(index: int) -> None:
        start.wait(10)
        for _ in range(5):
            raised[index] += watchers[index].watch()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert len(raised[0] + raised[1]) == 1
        assert len(_alerts(watchers[0])) == 1
    finally:
        for database in databases:
            database.close()


def test_a_duty_done_late_raises_one_alert_and_a_watcher_does_not_add_another(
    service: TransferService, clock: Clock
) -> None:
    transfer_id = _approved_transfer(service, clock)
    clock.set("2025-06-05T10:00:00")  # 42 hours after the approval
    from tests.transfers.test_lifecycle import PACKAGE, POLICE  # noqa: PLC0415

    service.send_package(transfer_id, PACKAGE, by="龙岩市新罗生态环境局", to_organ=POLICE)
    assert service.watch() == []
    (alert,) = _alerts(service)
    assert alert["deadline"]["closed_at"] == "2025-06-05T10:00:00+08:00"  # type: ignore[index]
