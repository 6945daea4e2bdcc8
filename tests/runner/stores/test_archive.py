"""The canonical day archive: envelopes by schema and Beijing-time received day, once each, in
the order received; pruned by day; and when archiving each schema began."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runner.stores.archive import ArchiveStore, archive_row, received_day
from runner.stores.db import Database
from schemas.timeutil import SHANGHAI

CASE, DECISION = "enforcement.case.v1", "enforcement.penalty_decision.v1"
_IDS = iter(f"01HRY{n:021d}" for n in range(1, 10_000))


def envelope(schema: str, received_at: str, **payload: Any) -> dict[str, Any]:
    """A stamped envelope as the feeds carry it (only what the archive reads matters)."""
    return {
        "message_id": next(_IDS),
        "schema": schema,
        "received_at": received_at,
        "payload": {"title": "福州市仓山区极速网络会所案", **payload},
    }


def test_a_day_is_read_back_by_schema_in_the_order_received(db: Database):
    store = ArchiveStore(db)
    late = envelope(CASE, "2024-03-05T18:00:00+08:00")
    early = envelope(DECISION, "2024-03-05T08:00:00+08:00")
    same_second = [envelope(CASE, "2024-03-05T12:00:00+08:00") for _ in range(3)]
    other_day = envelope(CASE, "2024-03-06T08:00:00+08:00")
    other_schema = envelope("enforcement.inspection.v1", "2024-03-05T09:00:00+08:00")
    store.add_many([late, *same_second, other_day, early, other_schema])

    day = store.day([CASE, DECISION], dt.date(2024, 3, 5))

    assert [e["message_id"] for e in day] == [
        early["message_id"],
        *(e["message_id"] for e in same_second),  # same second: the order they arrived in
        late["message_id"],
    ]
    assert day[0] == early  # the envelope JSON as it was, Chinese text included
    assert store.day([CASE], dt.date(2024, 3, 6)) == [other_day]
    assert store.day([DECISION], dt.date(2024, 3, 6)) == []


def test_the_day_is_the_beijing_day_of_received_at_whatever_its_offset(db: Database):
    store = ArchiveStore(db)
    before = envelope(CASE, "2024-03-05T15:59:59+00:00")  # 23:59:59 in Beijing
    after = envelope(CASE, "2024-03-05T16:00:00Z")  # 00:00:00 the next day in Beijing
    store.add_many([before, after])
    assert store.day([CASE], dt.date(2024, 3, 5)) == [before]
    assert store.day([CASE], dt.date(2024, 3, 6)) == [after]
    assert received_day(after) == dt.date(2024, 3, 6)


def test_a_redelivered_message_is_stored_once_and_keeps_its_first_place(db: Database):
    store = ArchiveStore(db)
    first = envelope(CASE, "2024-03-05T10:00:00+08:00")
    second = envelope(CASE, "2024-03-05T10:00:00+08:00")
    store.add_many([first, second])
    store.add_many([first, {**first, "payload": {"title": "changed"}}])
    assert store.day([CASE], dt.date(2024, 3, 5)) == [first, second]
    assert store.known_among([first["message_id"], "01HRYZZZZZZZZZZZZZZZZZZZZZ"]) == {
        first["message_id"]
    }


def test_pruning_deletes_the_days_before_the_cutoff_only(db: Database):
    store = ArchiveStore(db)
    days = [envelope(CASE, f"2024-03-0{d}T10:00:00+08:00") for d in (1, 2, 3)]
    store.add_many(days)
    assert store.prune(before=dt.date(2024, 3, 3)) == 2
    assert store.prune(before=dt.date(2024, 3, 3)) == 0
    assert store.day([CASE], dt.date(2024, 3, 2)) == []
    assert store.day([CASE], dt.date(2024, 3, 3)) == [days[2]]


def test_archiving_a_schema_begins_once_and_keeps_its_first_time(db: Database):
    store = ArchiveStore(db)
    first = dt.datetime(2024, 3, 1, 9, 0, tzinfo=SHANGHAI)
    assert store.since(CASE) is None
    store.begin([CASE, DECISION], first)
    store.begin([CASE], first + dt.timedelta(days=3))
    assert store.since(CASE) == first
    assert store.since(DECISION) == first
    assert store.since("enforcement.inspection.v1") is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param({"message_id": None}, ValueError, id="a message id that is no ULID"),
        pytest.param({"received_at": "2024-03-05T10:00:00"}, ValueError, id="a zoneless time"),
        pytest.param({"received_at": "yesterday"}, ValueError, id="no time at all"),
        pytest.param({"schema": KeyError}, KeyError, id="no schema"),
    ],
)
def test_what_is_no_stamped_envelope_is_refused(change: dict[str, Any], error: type):
    data = envelope(CASE, "2024-03-05T10:00:00+08:00")
    data.update({k: v for k, v in change.items() if v is not KeyError})
    for key in [k for k, v in change.items() if v is KeyError]:
        del data[key]
    with pytest.raises(error):
        archive_row(data)
