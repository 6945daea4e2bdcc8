"""Shared tokens and rate gates: one refresh at a time per client, one wait per key, seen by
every process."""

from __future__ import annotations

import datetime as dt
from itertools import count

import pytest
from sqlalchemy.exc import OperationalError

from runner.errors import TransientError
from runner.stores import Database
from runner.stores.gates import SharedGateStore
from runner.stores.tokens import SharedToken, SharedTokenStore

AT = dt.datetime(2024, 3, 5, 2, 30, 16, tzinfo=dt.UTC)
KEY = "k" * 64
LEASE = dt.timedelta(seconds=30)


def _store(db: Database) -> SharedTokenStore:
    numbers = count(1)
    return SharedTokenStore(db, nonce=lambda: f"claim-{next(numbers)}")


def test_a_client_without_a_token_reads_as_version_zero(db: Database):
    assert SharedTokenStore(db).read(KEY) == SharedToken(None, None, 0, None)


def test_one_claim_wins_and_its_token_is_the_next_version(db: Database):
    store = _store(db)
    claim = store.claim(KEY, 0, AT, lease_s=30)
    assert claim == "claim-1"
    assert store.claim(KEY, 0, AT, lease_s=30) is None  # another process: wait and adopt
    assert store.read(KEY).claimed_until == AT + LEASE
    expires = AT + dt.timedelta(hours=2)
    assert store.publish(KEY, claim, "sealed-1", expires)
    assert store.read(KEY) == SharedToken("sealed-1", expires, 1, None)


def test_a_claim_on_a_version_already_replaced_fails(db: Database):
    store = _store(db)
    claim = store.claim(KEY, 0, AT, lease_s=30)
    assert claim is not None
    store.publish(KEY, claim, "sealed-1", AT)
    assert store.claim(KEY, 0, AT, lease_s=30) is None  # saw version 0: the token moved on
    assert store.claim(KEY, 1, AT, lease_s=30) is not None


def test_only_the_holder_of_a_claim_can_publish_or_release_it(db: Database):
    store = _store(db)
    hung = store.claim(KEY, 0, AT, lease_s=30)  # a process that then hangs
    assert hung is not None
    later = AT + LEASE + dt.timedelta(seconds=1)
    taker = store.claim(KEY, 0, later, lease_s=30)  # its lease lapsed: another takes over
    assert taker is not None
    store.release(KEY, hung)  # the hung one's fetch fails at last: the taker's claim stands
    assert store.claim(KEY, 0, later, lease_s=30) is None
    assert not store.publish(KEY, hung, "sealed-late", later)  # nor can it publish over it
    assert store.publish(KEY, taker, "sealed-new", later)
    assert store.read(KEY).sealed == "sealed-new"
    assert not store.publish(KEY, taker, "sealed-again", later)  # a claim publishes once


def test_a_released_claim_lets_another_process_try_at_once(db: Database):
    store = _store(db)
    claim = store.claim(KEY, 0, AT, lease_s=30)
    assert claim is not None
    store.release(KEY, claim)
    assert store.claim(KEY, 0, AT, lease_s=30) is not None


def test_clients_are_kept_apart_and_survive_reopening(store_url: str):
    with Database.open(store_url) as db:
        store = _store(db)
        claim = store.claim(KEY, 0, AT, lease_s=30)
        assert claim is not None
        store.publish(KEY, claim, "sealed-1", AT)
        assert store.read("o" * 64).version == 0
    with Database.open(store_url) as db:
        assert SharedTokenStore(db).read(KEY).sealed == "sealed-1"


@pytest.mark.parametrize(
    "call",
    [
        lambda db: SharedTokenStore(db).read(KEY),
        lambda db: SharedTokenStore(db).claim(KEY, 0, AT, lease_s=30),
        lambda db: SharedTokenStore(db).publish(KEY, "claim-1", "sealed", AT),
        lambda db: SharedTokenStore(db).release(KEY, "claim-1"),
        lambda db: SharedGateStore(db).closed_until(KEY),
        lambda db: SharedGateStore(db).hold(KEY, AT),
    ],
    ids=["read", "claim", "publish", "release", "closed_until", "hold"],
)
def test_a_store_that_cannot_be_reached_is_a_transient_error(db: Database, monkeypatch, call):
    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(db, "read", unreachable)
    monkeypatch.setattr(db, "write", unreachable)
    with pytest.raises(TransientError, match="store is unavailable") as caught:
        call(db)
    assert caught.value.code == "STORE"


# --- rate gates -------------------------------------------------------------------------------


def test_an_unknown_key_is_open(db: Database):
    assert SharedGateStore(db).closed_until(KEY) is None


def test_a_gate_holds_and_a_shorter_wait_never_shortens_it(db: Database):
    gates = SharedGateStore(db)
    gates.hold(KEY, AT + dt.timedelta(seconds=60))
    gates.hold(KEY, AT + dt.timedelta(seconds=5))
    assert gates.closed_until(KEY) == AT + dt.timedelta(seconds=60)
    gates.hold(KEY, AT + dt.timedelta(seconds=600))  # a lock-out after the 429
    assert gates.closed_until(KEY) == AT + dt.timedelta(seconds=600)
    assert gates.closed_until("o" * 64) is None
