"""The dead-letter store: put, list, show, replay-mark and purge."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from ulid import ULID

from runner.errors import MessageRejected, PermanentError, TransientError
from runner.stores import Attempt, Database, DeadLetter, DeadLetterStore

RAW = b'<?xml version="1.0" encoding="GBK"?><SFZH>350427197511203154</SFZH>\xc4\xe3\x00'


@pytest.fixture
def store(db: Database) -> DeadLetterStore:
    return DeadLetterStore(db)


def letter(**fields) -> DeadLetter:
    values = {
        "system": "eco_env",
        "message_type": "get_penalty_decision_response",
        "stage": "route",
        "reason": "eco_env get_penalty_decision_response: payload.party.uscc: bad [uscc]",
        "body": RAW,
    }
    values.update(fields)
    return DeadLetter(**values)


def test_a_put_letter_is_stored_as_dead_under_a_new_ulid_with_its_body_byte_for_byte(
    store: DeadLetterStore,
):
    attempt = Attempt(at=dt.datetime(2024, 5, 1, 2, tzinfo=dt.UTC), error="timeout", code="504")
    stored = store.put(
        letter(
            stage="delivery",
            destination="credit_fj",
            route="eco_env-penalties",
            message_id="01HXM0000000000000000000AA",
            case_code="C1",
            attempts=(attempt, attempt),
            headers={"content-type": "application/xml", "x-retries": 3},
        )
    )
    assert str(ULID.from_str(stored.id)) == stored.id
    assert stored.status == "dead"
    fetched = store.get(stored.id)
    assert fetched == stored
    assert fetched is not None
    assert fetched.body == RAW
    assert fetched.attempts == (attempt, attempt)
    assert fetched.headers == {"content-type": "application/xml", "x-retries": 3}


def test_an_unknown_id_gets_none(store: DeadLetterStore):
    assert store.get(str(ULID())) is None


def test_a_letter_from_a_rejection_carries_its_reason_rule_field_and_ids():
    error = MessageRejected(
        "not a valid USCC",
        system="eco_env",
        message="get_case_list_response",
        field="payload.party.uscc",
        rule="uscc",
        source_message_id="WS-1",
    )
    made = DeadLetter.from_error(error, stage="route", body=b"x")
    assert made.reason == str(error)
    assert (made.system, made.message_type, made.source_message_id) == (
        "eco_env",
        "get_case_list_response",
        "WS-1",
    )
    assert (made.rule, made.field) == ("uscc", "payload.party.uscc")


@pytest.mark.parametrize(
    ("error", "rule"),
    [
        pytest.param(TransientError("timed out", code="504"), "transient", id="transient"),
        pytest.param(PermanentError("refused", code="400"), "permanent", id="permanent"),
    ],
)
def test_a_letter_from_a_delivery_error_names_the_kind_of_failure(error, rule):
    made = DeadLetter.from_error(
        error, stage="delivery", body=b"{}", system="credit_fj", message_type="penalty_push"
    )
    assert (made.reason, made.rule, made.field) == (str(error), rule, None)
    assert (made.system, made.message_type) == ("credit_fj", "penalty_push")


def test_list_gives_summaries_newest_first_filtered_by_status_and_system(
    store: DeadLetterStore,
):
    first = store.put(letter())
    second = store.put(letter(system="credit_fj"))
    third = store.put(letter())
    store.mark_replayed(third.id)
    assert [s.id for s in store.list()] == [third.id, second.id, first.id]
    assert [s.id for s in store.list(system="eco_env")] == [third.id, first.id]
    assert [s.id for s in store.list(status="dead")] == [second.id, first.id]
    assert [s.id for s in store.list(status="dead", system="eco_env")] == [first.id]
    assert [s.id for s in store.list(limit=1)] == [third.id]


def test_a_summary_holds_no_body_headers_or_attempts(store: DeadLetterStore):
    store.put(letter(headers={"h": "v"}))
    (summary,) = store.list()
    assert not {"body", "headers", "attempts"} & set(summary.model_dump())


def test_mark_replayed_moves_a_dead_letter_once(store: DeadLetterStore):
    stored = store.put(letter())
    assert store.mark_replayed(stored.id) is True
    assert store.mark_replayed(stored.id) is False
    assert store.mark_replayed(str(ULID())) is False
    fetched = store.get(stored.id)
    assert fetched is not None
    assert fetched.status == "replayed"
    assert fetched.updated_at >= fetched.created_at


def test_of_operators_replaying_the_same_letter_at_once_exactly_one_wins(
    store: DeadLetterStore,
):
    stored = store.put(letter())
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def replay() -> None:
        barrier.wait(10)
        wins.append(store.mark_replayed(stored.id))

    threads = [threading.Thread(target=replay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_purge_wipes_body_and_headers_and_keeps_the_row_as_purged(store: DeadLetterStore):
    kept = store.put(letter())
    gone = store.put(letter(headers={"x-id": "350427197511203154"}))
    purged = store.purge([gone.id, str(ULID())])
    assert [(s.id, s.status) for s in purged] == [(gone.id, "purged")]
    fetched = store.get(gone.id)
    assert fetched is not None
    assert (fetched.status, fetched.body, fetched.headers) == ("purged", b"", {})
    assert fetched.reason == gone.reason
    assert store.get(kept.id) == kept


def test_purging_again_purges_nothing(store: DeadLetterStore):
    stored = store.put(letter())
    assert len(store.purge([stored.id])) == 1
    assert store.purge([stored.id]) == []


def test_purge_handles_more_ids_than_one_statement_takes(store: DeadLetterStore):
    ids = [store.put(letter(body=b"b")).id for _ in range(3)]
    purged = store.purge([*ids, *(str(ULID()) for _ in range(1200))])
    assert sorted(s.id for s in purged) == sorted(ids)


def test_purge_all_purges_every_letter_or_those_of_one_system(store: DeadLetterStore):
    eco = [store.put(letter()).id for _ in range(3)]
    credit = store.put(letter(system="credit_fj")).id
    store.mark_replayed(eco[0])
    assert sorted(s.id for s in store.purge_all(system="eco_env")) == sorted(eco)
    assert store.get(credit) is not None
    assert store.get(credit).status == "dead"  # type: ignore[union-attr]
    assert [s.id for s in store.purge_all()] == [credit]


def test_counts_are_per_system_and_status(store: DeadLetterStore):
    ids = [store.put(letter()).id for _ in range(3)]
    store.put(letter(system="credit_fj"))
    store.mark_replayed(ids[0])
    store.purge([ids[1]])
    assert store.counts() == {
        "eco_env": {"dead": 1, "replayed": 1, "purged": 1},
        "credit_fj": {"dead": 1},
    }


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage"):
        letter(stage="somewhere")
