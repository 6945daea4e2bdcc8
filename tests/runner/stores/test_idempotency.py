"""Idempotency: one message id per source message, one delivery mark per destination."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from ulid import ULID

from runner.stores import Claim, Database, IdempotencyStore
from tests.runner.stores import _workers


@pytest.fixture
def store(db: Database) -> IdempotencyStore:
    return IdempotencyStore(db)


def race(count: int, action):
    """Run ``action()`` in ``count`` threads released at once; return their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(10)
            results[index] = action()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_the_first_claim_mints_a_ulid_and_a_resend_gets_the_same_one(store: IdempotencyStore):
    first = store.claim("eco_env", "WS-1")
    again = store.claim("eco_env", "WS-1")
    assert first.first_time is True
    assert str(ULID.from_str(first.message_id)) == first.message_id
    assert again == Claim(first.message_id, first_time=False)


def test_the_same_source_id_from_another_system_is_another_message(store: IdempotencyStore):
    assert store.claim("eco_env", "1").message_id != store.claim("credit_fj", "1").message_id


def test_a_claim_survives_reopening_the_store(store_url: str):
    with Database.open(store_url) as db:
        first = IdempotencyStore(db).claim("eco_env", "WS-1")
    with Database.open(store_url) as db:
        assert IdempotencyStore(db).claim("eco_env", "WS-1") == Claim(first.message_id, False)


def test_eight_threads_claiming_one_key_get_one_message_id_and_one_first_time(
    store: IdempotencyStore,
):
    for round_ in range(5):
        claims = race(8, lambda r=round_: store.claim("eco_env", f"WS-{r}"))
        assert len({c.message_id for c in claims}) == 1
        assert sorted(c.first_time for c in claims) == [False] * 7 + [True]


def test_processes_claiming_the_same_keys_agree_on_every_message_id(
    store: IdempotencyStore, store_url: str
):
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    keys = [f"WS-{n}" for n in range(50)]
    workers = [
        context.Process(target=_workers.claim_keys, args=(store_url, keys, start, out))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    start.set()
    results = [out.get(timeout=120) for _ in range(4 * len(keys))]
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * 4
    for key in keys:
        mine = [(mid, first) for k, mid, first in results if k == key]
        assert len({mid for mid, _ in mine}) == 1
        assert sorted(first for _, first in mine) == [False, False, False, True]
        assert store.claim("eco_env", key).message_id == mine[0][0]


def test_claim_many_answers_in_order_and_a_repeated_key_is_first_time_once(
    store: IdempotencyStore,
):
    known = store.claim("eco_env", "old")
    claims = store.claim_many(
        [("eco_env", "a"), ("eco_env", "old"), ("eco_env", "a"), ("credit_fj", "a")]
    )
    assert [c.first_time for c in claims] == [True, False, False, True]
    assert claims[1].message_id == known.message_id
    assert claims[0].message_id == claims[2].message_id != claims[3].message_id
    assert store.claim("eco_env", "a").message_id == claims[0].message_id


def test_claim_many_handles_batches_larger_than_one_statement(store: IdempotencyStore):
    keys = [("eco_env", f"WS-{n}") for n in range(1300)]
    claims = store.claim_many(keys)
    assert all(c.first_time for c in claims)
    assert len({c.message_id for c in claims}) == 1300
    assert store.claim_many(keys) == [Claim(c.message_id, False) for c in claims]


def test_claim_many_of_nothing_claims_nothing(store: IdempotencyStore):
    assert store.claim_many([]) == []


def test_a_delivery_is_marked_first_time_once_per_destination(store: IdempotencyStore):
    assert store.was_delivered("credit_fj", "M1") is False
    assert store.mark_delivered("credit_fj", "M1") is True
    assert store.mark_delivered("credit_fj", "M1") is False
    assert store.was_delivered("credit_fj", "M1") is True
    assert store.was_delivered("ip_supervision", "M1") is False
    assert store.mark_delivered("ip_supervision", "M1") is True


def test_of_eight_workers_marking_one_delivery_exactly_one_is_first(store: IdempotencyStore):
    marks = race(8, lambda: store.mark_delivered("credit_fj", "M1"))
    assert sorted(marks) == [False] * 7 + [True]


def test_batched_delivery_marks_are_seen_per_destination(store: IdempotencyStore):
    ids = [f"01JTZ6Q8M4V2A7K9C1E3G5H{n:03d}" for n in range(700)]  # more than one chunk
    store.mark_delivered_many("route/credit_fj", ids[:600] + ids[:5])
    assert store.delivered_among("route/credit_fj", ids) == set(ids[:600])
    assert store.delivered_among("route/other", ids) == set()
    assert not store.mark_delivered("route/credit_fj", ids[0])  # already marked
    assert store.was_delivered("route/credit_fj", ids[599])
