"""The audit store's hot path: ``record_many``/``record_in`` and the precomputed chain hashing.

The rows they store must be byte-for-byte what the record-building path stores, and what the
reference recipe (``_chain.chain_hash`` over ``model_dump`` fields) gives, so that chains written
before and after keep verifying.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select, text

from runner.stores import AuditEvent, AuditStore, Database
from runner.stores._chain import (
    GENESIS_HASH,
    CanonicalRecord,
    _holds_l3,
    canonical_json,
    chain_hash,
    detail_json,
    refuse_l3_values,
)
from runner.stores._tables import audit_head, audit_log

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=SHANGHAI)


def batch() -> list[AuditEvent]:
    """An inbound batch's events (see runner.engine.inbound), with awkward text thrown in."""
    return [
        AuditEvent(
            kind="received",
            at=AT,
            system="eco_env",
            message_type="get_penalty_decision_response",
            detail={"bytes": 5123, "records": 2},
        ),
        AuditEvent(
            kind="mapped",
            at=AT + dt.timedelta(microseconds=1),
            system="eco_env",
            message_type="get_penalty_decision_response",
            message_id="01HXM0000000000000000000AB",
            source_message_id='WS-"2024"\\0001\u2028',
            case_code="闽环罚〔2024〕1号",
            detail={
                "schema": "penalty_decision.v1",
                "classification": "L2",
                "to": ["credit_fj", "admin_criminal"],
                "first_time": True,
                "nested": {"z": 1.5, "a": [None, "é\t"]},
            },
        ),
        AuditEvent(kind="transfer.proposed", at=AT, system="admin_criminal", route="r1"),
    ]


def stored_rows(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings()
        return [dict(row) for row in rows]


def wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM ebus_audit_log"))
        conn.execute(text("DELETE FROM ebus_audit_head"))


def reference_rows(events: list[AuditEvent]) -> list[dict[str, Any]]:
    """The rows as the store built them before the hot path was optimised."""
    rows, prev_hash = [], GENESIS_HASH
    for seq, event in enumerate(events, start=1):
        fields = event.model_dump(exclude={"detail", "at"})
        fields["at"] = event.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
        fields["detail"] = json.dumps(
            event.detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        digest = chain_hash(prev_hash, seq, fields, event.detail)
        rows.append({**fields, "seq": seq, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    return rows


@pytest.fixture
def audit(db: Database) -> AuditStore:
    return AuditStore(db)


def test_record_many_stores_the_rows_append_many_stores(audit: AuditStore, db: Database):
    records = audit.append_many(batch())
    appended = stored_rows(db)
    wipe(db)
    assert audit.record_many(batch()) == 3
    assert stored_rows(db) == appended
    assert [row["hash"] for row in appended] == [record.hash for record in records]
    assert audit.verify().ok


def test_the_stored_rows_are_those_of_the_reference_recipe(audit: AuditStore, db: Database):
    audit.record_many(iter(batch()))
    assert stored_rows(db) == reference_rows(batch())
    with db.read() as conn:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    assert tuple(head) == (3, reference_rows(batch())[-1]["hash"])


def test_record_many_chains_after_records_of_the_other_path(audit: AuditStore):
    first = audit.append(batch()[0])
    assert audit.record_many(batch()[1:]) == 2
    assert audit.record_many([]) == 0
    seq, last_hash = audit.head()
    assert seq == 3
    assert audit.trace("01HXM0000000000000000000AB")[0].prev_hash == first.hash
    assert audit.append(batch()[0]).prev_hash == last_hash
    assert audit.verify().ok


def test_record_in_commits_with_the_callers_transaction(audit: AuditStore, db: Database):
    with db.write() as conn:
        assert audit.record_in(conn, batch()) == 3
        assert audit.record_in(conn, []) == 0
    assert audit.head()[0] == 3
    assert audit.verify().ok


def test_record_in_rolls_back_with_the_callers_transaction(audit: AuditStore, db: Database):
    class CallerFailed(Exception):
        pass

    def write_then_fail() -> None:
        with db.write() as conn:
            audit.record_in(conn, batch())
            raise CallerFailed

    with pytest.raises(CallerFailed):
        write_then_fail()
    assert audit.head() == (0, GENESIS_HASH)


def test_record_many_refuses_l3_values_and_stores_none_of_the_batch(
    audit: AuditStore, db: Database
):
    events = [*batch(), AuditEvent(kind="received", system="s", detail={"n": [-13705912468]})]
    with pytest.raises(ValueError, match=r"detail\.n\[0\] looks like a mobile phone number"):
        audit.record_many(events)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 0


# --- the chain helpers -----------------------------------------------------------------------


@pytest.mark.parametrize("event", batch(), ids=lambda event: event.kind)
def test_a_canonical_record_hashes_like_chain_hash_at_any_seq(event: AuditEvent):
    fields = reference_rows([event])[0]
    canonical = CanonicalRecord.of(fields, detail_json(event.detail))
    for seq in (1, 9, 10, 123456789012):
        expected = chain_hash("ab" * 32, seq, fields, event.detail)
        assert canonical.hash("ab" * 32, seq) == expected
        text = canonical.before_seq + str(seq).encode() + canonical.after_seq
        assert text == canonical_json(seq, fields, event.detail)


def test_detail_json_is_the_canonical_text_and_refuses_nan():
    detail = {"b": [1, {"y": "é", "x": None}], "a": 0.1}
    assert detail_json(detail) == '{"a":0.1,"b":[1,{"x":null,"y":"é"}]}'
    with pytest.raises(ValueError, match="Out of range float"):
        detail_json({"x": float("nan")})


@pytest.mark.parametrize(
    ("detail", "holds"),
    [
        pytest.param({"phone": "13705912468"}, True, id="a mobile number of exactly 11 characters"),
        pytest.param({"phone": -13705912468}, True, id="a negative integer"),
        pytest.param({13705912468: "x"}, True, id="an integer key"),
        pytest.param(("350427197511203154",), True, id="an ID in a tuple"),
        pytest.param({"n": 1370591246}, False, id="ten digits"),
        pytest.param({"flag": True, "none": None, "ratio": 13705912468.0}, False, id="not str/int"),
        pytest.param({"ref": "X13705912468"}, False, id="inside an identifier"),
    ],
)
def test_the_l3_scan_agrees_with_the_refusing_walk(detail: Any, holds: bool):
    assert _holds_l3(detail) is holds
    if holds:
        with pytest.raises(ValueError, match="must never hold L3 values"):
            refuse_l3_values(detail)
    else:
        refuse_l3_values(detail)
