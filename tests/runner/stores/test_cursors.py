"""Durable polling cursors."""

from __future__ import annotations

import math

import pytest

from runner.stores import CursorStore, Database


@pytest.fixture
def cursors(db: Database) -> CursorStore:
    return CursorStore(db)


def test_a_cursor_never_set_is_none(cursors: CursorStore):
    assert cursors.get("eco_env.penalties") is None


def test_a_set_cursor_is_read_back_and_replaced_by_the_next_set(cursors: CursorStore):
    cursors.set("eco_env.penalties", {"until": "2024-05-01T10:00:00+08:00", "page": 3})
    assert cursors.get("eco_env.penalties") == {"until": "2024-05-01T10:00:00+08:00", "page": 3}
    cursors.set("eco_env.penalties", {"until": "2024-05-01T11:00:00+08:00", "名": "值"})
    assert cursors.get("eco_env.penalties") == {"until": "2024-05-01T11:00:00+08:00", "名": "值"}


def test_cursors_are_independent_by_name(cursors: CursorStore):
    cursors.set("a", {"n": 1})
    cursors.set("b", {"n": 2})
    assert (cursors.get("a"), cursors.get("b")) == ({"n": 1}, {"n": 2})


def test_a_cursor_survives_reopening_the_store(store_url: str):
    with Database.open(store_url) as db:
        CursorStore(db).set("a", {"n": 1})
    with Database.open(store_url) as db:
        assert CursorStore(db).get("a") == {"n": 1}


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(["not", "a", "dict"], TypeError, id="a list"),
        pytest.param({"at": object()}, TypeError, id="a value that is not JSON"),
        pytest.param({"n": math.nan}, ValueError, id="NaN"),
    ],
)
def test_a_value_that_is_not_a_plain_json_object_is_refused(cursors: CursorStore, value, error):
    with pytest.raises(error):
        cursors.set("a", value)
    assert cursors.get("a") is None
