"""The audit store: a hash chain that detects changed, inserted and deleted records."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import multiprocessing
import threading
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text

from runner.stores import AuditChainError, AuditEvent, AuditStore, Database
from runner.stores._chain import GENESIS_HASH, chain_hash
from runner.stores._tables import audit_head, audit_log
from tests.runner.stores import _workers

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def event(**fields: Any) -> AuditEvent:
    values: dict[str, Any] = {"kind": "received", "system": "eco_env"}
    values.update(fields)
    return AuditEvent(**values)


@pytest.fixture
def audit(db: Database) -> AuditStore:
    return AuditStore(db)


def fill(audit: AuditStore, count: int) -> None:
    audit.append_many(event(message_id=f"M{n}", detail={"n": n}) for n in range(1, count + 1))


def raw(db: Database, sql: str, **params: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


# --- appending -----------------------------------------------------------------------------


def test_appends_get_consecutive_seqs_chained_from_the_genesis_hash(audit: AuditStore):
    first = audit.append(event(detail={"bytes": 10}))
    second = audit.append(event(kind="mapped"))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert audit.head() == (2, second.hash)


def test_the_hash_is_sha256_of_prev_hash_and_the_canonical_json_of_seq_and_every_field(
    audit: AuditStore,
):
    at = dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=SHANGHAI)
    record = audit.append(
        event(at=at, message_type="m", case_code="闽环罚〔2024〕1号", detail={"b": 1, "a": "é"})
    )
    document = {
        "seq": 1,
        "kind": "received",
        "at": "2024-05-01T02:00:00.123456+00:00",
        "system": "eco_env",
        "message_type": "m",
        "route": None,
        "destination": None,
        "message_id": None,
        "source_message_id": None,
        "case_code": "闽环罚〔2024〕1号",
        "detail": {"a": "é", "b": 1},
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(("0" * 64 + canonical).encode("utf-8")).hexdigest()
    assert record.hash == expected


def test_append_many_stores_a_batch_in_order_with_one_chain(audit: AuditStore):
    records = audit.append_many(event(detail={"n": n}) for n in range(250))
    assert [r.seq for r in records] == list(range(1, 251))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    assert audit.head() == (250, records[-1].hash)
    assert audit.verify().ok


def test_append_many_of_nothing_stores_nothing(audit: AuditStore):
    assert audit.append_many([]) == []
    assert audit.head() == (0, GENESIS_HASH)


def test_a_refused_event_stores_none_of_its_batch(audit: AuditStore, db: Database):
    batch = [event(), event(detail={"phone": "13705912468"}), event()]
    with pytest.raises(ValueError, match="mobile phone"):
        audit.append_many(batch)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 0


def test_append_in_chains_after_the_head_and_commits_with_the_callers_transaction(
    audit: AuditStore, db: Database
):
    first = audit.append(event())
    with db.write() as conn:
        records = audit.append_in(conn, [event(kind="transfer.proposed"), event(kind="mapped")])
        assert audit.append_in(conn, []) == []
    assert [r.seq for r in records] == [2, 3]
    assert records[0].prev_hash == first.hash
    assert audit.head() == (3, records[-1].hash)
    assert audit.verify().ok


def test_append_in_rolls_back_with_the_callers_transaction(audit: AuditStore, db: Database):
    first = audit.append(event())

    class CallerFailed(Exception):
        pass

    def write_then_fail() -> None:
        with db.write() as conn:
            audit.append_in(conn, [event(kind="mapped")])
            raise CallerFailed

    with pytest.raises(CallerFailed):
        write_then_fail()
    assert audit.head() == (1, first.hash)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 1


def test_the_time_is_stored_in_utc_and_read_back_as_the_same_instant(audit: AuditStore):
    at = dt.datetime(2024, 5, 1, 10, 30, tzinfo=SHANGHAI)
    audit.append(event(at=at, case_code="C1"))
    (record,) = audit.trace("C1")
    assert record.at == at
    assert record.at.utcoffset() == dt.timedelta(0)


def test_appending_refuses_to_restart_a_chain_whose_head_row_was_deleted(
    audit: AuditStore, db: Database
):
    fill(audit, 3)
    raw(db, "DELETE FROM ebus_audit_head")
    with pytest.raises(AuditChainError, match="head row is missing"):
        audit.append(event())


# --- event validation and the L3 guard -------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("delivered", id="a known kind"),
        pytest.param("transfer", id="the plain transfer kind"),
        pytest.param("transfer.proposed", id="a transfer step"),
    ],
)
def test_known_kinds_and_transfer_steps_are_accepted(kind: str):
    assert event(kind=kind).kind == kind


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("deliverd", id="a misspelt kind"),
        pytest.param("transfer.", id="an empty transfer step"),
        pytest.param("", id="an empty kind"),
    ],
)
def test_unknown_kinds_are_refused(kind: str):
    with pytest.raises(ValidationError, match="unknown audit kind"):
        event(kind=kind)


def test_a_naive_time_is_refused():
    with pytest.raises(ValidationError, match="timezone"):
        event(at=dt.datetime(2024, 5, 1, 10))


@pytest.mark.parametrize(
    "detail",
    [
        pytest.param({"id": "350427197511203154"}, id="a resident ID number"),
        pytest.param({"id": "35042719751120315X"}, id="a resident ID ending in X"),
        pytest.param({"note": "party 35042719751120315x refused"}, id="an ID inside a sentence"),
        pytest.param({"phone": "13705912468"}, id="a mobile number"),
        pytest.param({"phone": "+8613705912468"}, id="a mobile number behind +86"),
        pytest.param({"phone": "137-0591-2468"}, id="a mobile number with hyphens"),
        pytest.param({"phone": "137 0591 2468"}, id="a mobile number with spaces"),
        pytest.param({"phone": "+86 137 0591 2468"}, id="a spaced mobile number behind +86"),
        pytest.param({"note": "当事人电话13705912468。"}, id="a mobile number in Chinese text"),
        pytest.param({"phone": 13705912468}, id="a mobile number as an integer"),
        pytest.param({"parties": [{"ids": ["350427197511203154"]}]}, id="nested in lists"),
        pytest.param({"13705912468": True}, id="a key"),
    ],
)
def test_detail_values_that_look_like_l3_data_are_refused(audit: AuditStore, detail):
    with pytest.raises(ValueError, match="must never hold L3 values") as caught:
        audit.append(event(detail=detail))
    assert "13705912468" not in str(caught.value)
    assert "350427197511203154" not in str(caught.value)


@pytest.mark.parametrize(
    "detail",
    [
        pytest.param({"id": "350427********3154"}, id="a masked ID number"),
        pytest.param({"phone": "137****2468"}, id="a masked mobile number"),
        pytest.param({"uscc": "91350100M000100Y43"}, id="a USCC"),
        pytest.param({"amount_yuan": 12000000, "status": 503}, id="amounts and codes"),
        pytest.param({"took_ms": 1370591246800}, id="a longer number"),
        pytest.param({"dead_letter_id": "01HXM13705912468ABCDEFGHJK"}, id="digits inside a ULID"),
        pytest.param({"ref": "X350427197511203154"}, id="digits inside an identifier"),
        pytest.param({"ok": True, "ratio": 0.5, "none": None}, id="other JSON values"),
    ],
)
def test_detail_values_without_l3_data_are_stored(audit: AuditStore, detail):
    assert audit.append(event(detail=detail)).detail == detail


# --- verification ----------------------------------------------------------------------------


def test_an_empty_store_verifies_as_intact(audit: AuditStore):
    report = audit.verify()
    assert report.ok
    assert report.records_checked == 0
    assert report.first_broken_seq is None


def test_an_intact_chain_verifies_and_reports_the_head_hash(audit: AuditStore):
    fill(audit, 20)
    report = audit.verify()
    assert report.ok, report.problems
    assert report.records_checked == 20
    assert (report.head_seq, report.head_hash) == audit.head()
    assert report.first_broken_seq is None


def test_a_changed_detail_is_reported_as_changed_at_its_seq(audit: AuditStore, db: Database):
    fill(audit, 10)
    raw(db, "UPDATE ebus_audit_log SET detail = :d WHERE seq = 4", d='{"n":40}')
    report = audit.verify()
    assert not report.ok
    assert (report.changed, report.inserted, report.deleted) == (1, 0, 0)
    assert report.first_broken_seq == 4
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "changed")]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param("kind", "rejected", id="the kind"),
        pytest.param("at", "2020-01-01T00:00:00.000000+00:00", id="the time"),
        pytest.param("case_code", "C-forged", id="the case code"),
        pytest.param("detail", "not json", id="the detail, made unreadable"),
    ],
)
def test_every_hashed_field_is_covered(audit: AuditStore, db: Database, column: str, value: str):
    fill(audit, 5)
    raw(db, f"UPDATE ebus_audit_log SET {column} = :v WHERE seq = 2", v=value)
    report = audit.verify()
    assert [(p.seq, p.kind) for p in report.problems] == [(2, "changed")]


def test_a_deleted_middle_record_is_reported_as_deleted(audit: AuditStore, db: Database):
    fill(audit, 10)
    raw(db, "DELETE FROM ebus_audit_log WHERE seq IN (5, 6)")
    report = audit.verify()
    assert (report.changed, report.inserted, report.deleted) == (0, 0, 2)
    assert report.first_broken_seq == 5
    assert [(p.seq, p.kind) for p in report.problems] == [(5, "deleted")]


def test_a_deleted_last_record_is_reported_through_the_head(audit: AuditStore, db: Database):
    fill(audit, 10)
    raw(db, "DELETE FROM ebus_audit_log WHERE seq = 10")
    report = audit.verify()
    assert (report.changed, report.inserted, report.deleted) == (0, 0, 1)
    assert report.first_broken_seq == 10
    assert report.records_checked == 9


def test_deleting_every_record_is_reported_through_the_head(audit: AuditStore, db: Database):
    fill(audit, 3)
    raw(db, "DELETE FROM ebus_audit_log")
    report = audit.verify()
    assert report.deleted == 3
    assert report.first_broken_seq == 1


def test_a_deleted_head_row_is_reported(audit: AuditStore, db: Database):
    fill(audit, 3)
    raw(db, "DELETE FROM ebus_audit_head")
    report = audit.verify()
    assert not report.ok
    assert report.head_hash is None
    assert "head row is missing" in str(report.problems[0])


def test_a_changed_head_hash_is_reported(audit: AuditStore, db: Database):
    fill(audit, 3)
    raw(db, "UPDATE ebus_audit_head SET hash = :h", h="f" * 64)
    report = audit.verify()
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "changed")]


def forge(db: Database, seq: int, prev_hash: str, **fields: Any) -> None:
    """Insert a record whose own hash is right, as someone knowing the recipe would."""
    row: dict[str, Any] = dict.fromkeys(
        ["message_type", "route", "destination", "message_id", "source_message_id", "case_code"]
    )
    row.update(kind="delivered", at="2024-05-01T02:00:00.000000+00:00", system="eco_env")
    row.update(fields)
    detail = {"forged": True}
    row.update(seq=seq, prev_hash=prev_hash, detail=json.dumps(detail, separators=(",", ":")))
    row["hash"] = chain_hash(prev_hash, seq, row, detail)
    with db.engine.begin() as conn:
        conn.execute(audit_log.insert().values(row))


def test_a_forged_record_appended_after_the_head_is_reported_as_inserted(
    audit: AuditStore, db: Database
):
    fill(audit, 5)
    forge(db, 6, audit.head()[1])
    report = audit.verify()
    assert (report.changed, report.inserted, report.deleted) == (0, 1, 0)
    assert [(p.seq, p.kind) for p in report.problems] == [(6, "inserted")]


def test_a_forged_record_in_place_of_a_deleted_one_is_reported_as_inserted(
    audit: AuditStore, db: Database
):
    fill(audit, 5)
    with db.read() as conn:
        hash_2 = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == 2)).scalar_one()
    raw(db, "DELETE FROM ebus_audit_log WHERE seq = 3")
    forge(db, 3, hash_2)
    report = audit.verify()
    assert (report.changed, report.inserted, report.deleted) == (0, 1, 0)
    assert report.first_broken_seq == 4  # seq 3 is self-consistent; the link to 4 is not
    assert "hash of seq 3" in report.problems[0].detail


def test_a_forged_record_with_a_wrong_hash_is_reported_as_changed_and_inserted(
    audit: AuditStore, db: Database
):
    fill(audit, 3)
    with db.engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                seq=4, at="x", kind="delivered", system="s", detail="{}", prev_hash="0", hash="0"
            )
        )
    report = audit.verify()
    assert sorted((p.seq, p.kind) for p in report.problems) == [(4, "changed"), (4, "inserted")]


# --- trace -----------------------------------------------------------------------------------


def test_trace_finds_records_by_case_code_message_id_or_source_message_id_in_order(
    audit: AuditStore,
):
    audit.append(event(source_message_id="WS-1", message_id="M1"))
    audit.append(event(source_message_id="WS-2", message_id="M2"))
    audit.append(event(kind="mapped", message_id="M1", case_code="C1"))
    audit.append(event(kind="delivered", case_code="C1", destination="credit_fj"))
    assert [r.seq for r in audit.trace("WS-1")] == [1]
    assert [r.seq for r in audit.trace("M1")] == [1, 3]
    assert [r.seq for r in audit.trace("C1")] == [3, 4]
    assert audit.trace("nothing") == []


# --- concurrency -----------------------------------------------------------------------------


def test_threads_appending_at_once_keep_one_chain_without_gaps(audit: AuditStore):
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait(10)
            for n in range(40):
                if n % 10 == 0:
                    audit.append_many([event(system=f"t{worker}", detail={"n": n})] * 3)
                else:
                    audit.append(event(system=f"t{worker}", detail={"n": n}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = audit.verify()
    assert report.ok, report.problems
    assert report.records_checked == report.head_seq == 8 * (36 + 4 * 3)


def test_processes_appending_at_once_keep_one_chain_without_gaps(db: Database, store_url: str):
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_workers.append_events, args=(store_url, w, 200, start))
        for w in range(4)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * 4
    report = AuditStore(db).verify()
    assert report.ok, report.problems
    assert report.records_checked == report.head_seq == 800
    with db.read() as conn:
        seqs = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars().all()
        counts = select(audit_log.c.system, func.count()).group_by(audit_log.c.system)
        per_worker = dict(conn.execute(counts).all())
        head = conn.execute(select(audit_head.c.seq)).scalar_one()
    assert seqs == list(range(1, 801))
    assert per_worker == {f"worker{w}": 200 for w in range(4)}
    assert head == 800
