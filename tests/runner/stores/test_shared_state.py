"""Shared tokens and rate gates: one refresh at a time per client, one wait per key, seen by
every process."""

from __future__ import annotations

import datetime as dt

from runner.stores import Database
from runner.stores.gates import SharedGateStore
from runner.stores.tokens import SharedToken, SharedTokenStore

AT = dt.datetime(2024, 3, 5, 2, 30, 16, tzinfo=dt.UTC)
KEY = "k" * 64


def test_a_client_without_a_token_reads_as_version_zero(db: Database):
    assert SharedTokenStore(db).read(KEY) == SharedToken(None, None, 0, None)


def test_one_claim_wins_and_its_token_is_the_next_version(db: Database):
    store = SharedTokenStore(db)
    assert store.claim(KEY, 0, AT, lease_s=30)
    assert not store.claim(KEY, 0, AT, lease_s=30)  # another process: wait and adopt
    assert store.read(KEY).claimed_until == AT + dt.timedelta(seconds=30)
    expires = AT + dt.timedelta(hours=2)
    assert store.publish(KEY, 0, "sealed-1", expires)
    assert store.read(KEY) == SharedToken("sealed-1", expires, 1, None)


def test_a_claim_on_a_version_already_replaced_fails(db: Database):
    store = SharedTokenStore(db)
    store.claim(KEY, 0, AT, lease_s=30)
    store.publish(KEY, 0, "sealed-1", AT)
    assert not store.claim(KEY, 0, AT, lease_s=30)  # saw version 0: the token moved on
    assert store.claim(KEY, 1, AT, lease_s=30)


def test_a_lapsed_claim_can_be_taken_and_its_late_publish_is_refused(db: Database):
    store = SharedTokenStore(db)
    assert store.claim(KEY, 0, AT, lease_s=30)  # a process that then hangs or dies
    later = AT + dt.timedelta(seconds=31)
    assert store.claim(KEY, 0, later, lease_s=30)
    assert store.publish(KEY, 0, "sealed-new", later)
    assert not store.publish(KEY, 0, "sealed-late", later)  # the hung one, too late
    assert store.read(KEY).sealed == "sealed-new"


def test_a_released_claim_lets_another_process_try_at_once(db: Database):
    store = SharedTokenStore(db)
    store.claim(KEY, 0, AT, lease_s=30)
    store.release(KEY, 0)
    assert store.claim(KEY, 0, AT, lease_s=30)


def test_clients_are_kept_apart_and_survive_reopening(store_url: str):
    with Database.open(store_url) as db:
        store = SharedTokenStore(db)
        store.claim(KEY, 0, AT, lease_s=30)
        store.publish(KEY, 0, "sealed-1", AT)
        assert store.read("o" * 64).version == 0
    with Database.open(store_url) as db:
        assert SharedTokenStore(db).read(KEY).sealed == "sealed-1"


# --- rate gates -------------------------------------------------------------------------------


def test_an_unknown_key_is_open(db: Database):
    assert SharedGateStore(db).closed_until(KEY) is None


def test_a_gate_closes_and_a_shorter_wait_never_shortens_it(db: Database):
    gates = SharedGateStore(db)
    gates.close(KEY, AT + dt.timedelta(seconds=60))
    gates.close(KEY, AT + dt.timedelta(seconds=5))
    assert gates.closed_until(KEY) == AT + dt.timedelta(seconds=60)
    gates.close(KEY, AT + dt.timedelta(seconds=600))  # a lock-out after the 429
    assert gates.closed_until(KEY) == AT + dt.timedelta(seconds=600)
    assert gates.closed_until("o" * 64) is None
