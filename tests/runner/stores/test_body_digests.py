"""Body digests: the first accepted body of a source message id wins, durably and shared."""

from __future__ import annotations

import datetime as dt

from runner.stores import Database
from runner.stores.body_digests import BodyDigestStore, FirstBody

AT = dt.datetime(2024, 3, 5, 2, 30, 16, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=401)


def test_nothing_is_recorded_at_first(db: Database):
    assert BodyDigestStore(db).first("emergency", "YJZF20240305103015000123") is None


def test_the_first_body_recorded_wins(db: Database):
    store = BodyDigestStore(db)
    assert store.record("emergency", "M1", "a" * 64, AT) == FirstBody("a" * 64, AT)
    assert store.record("emergency", "M1", "b" * 64, LATER) == FirstBody("a" * 64, AT)
    assert store.first("emergency", "M1") == FirstBody("a" * 64, AT)


def test_systems_and_ids_are_kept_apart(db: Database):
    store = BodyDigestStore(db)
    store.record("emergency", "M1", "a" * 64, AT)
    store.record("online_hall", "M1", "b" * 64, AT)
    assert store.first("online_hall", "M1") == FirstBody("b" * 64, AT)
    assert store.first("emergency", "M2") is None


def test_a_digest_survives_reopening_the_store(store_url: str):
    with Database.open(store_url) as db:
        BodyDigestStore(db).record("emergency", "M1", "a" * 64, AT)
    with Database.open(store_url) as db:
        assert BodyDigestStore(db).first("emergency", "M1") == FirstBody("a" * 64, AT)
