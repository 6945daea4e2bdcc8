"""Opening a store: engines, pragmas, table creation and the schema version."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.dialects import postgresql, sqlite

from runner.errors import ConfigError
from runner.stores import Database, open_engine
from runner.stores._tables import SCHEMA_VERSION, UtcDateTime, schema_version
from runner.stores.db import display_url


def test_sqlite_store_creates_its_parent_directory_and_uses_wal_with_a_busy_timeout(
    tmp_path: Path,
):
    path = tmp_path / "deep" / "er" / "ebus.db"
    with Database.open(f"sqlite:///{path}") as db, db.engine.connect() as conn:
        assert path.is_file()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_sqlite_write_transactions_take_the_write_lock_at_begin(tmp_path: Path):
    with Database.open(f"sqlite:///{tmp_path / 'ebus.db'}") as db:
        seen: list[str] = []
        with db.engine.connect() as probe:
            probe.exec_driver_sql("PRAGMA busy_timeout = 0")
            probe.commit()
            with db.write():
                # Another connection cannot take the write lock while ours is open.
                with pytest.raises(Exception, match="locked"):
                    probe.exec_driver_sql("BEGIN IMMEDIATE")
                seen.append("locked")
            probe.rollback()
        assert seen == ["locked"]


def test_an_in_memory_sqlite_store_is_refused_as_not_durable():
    with pytest.raises(ConfigError, match="not durable"):
        open_engine("sqlite://")


def test_an_unsupported_backend_is_refused_with_a_hint():
    with pytest.raises(ConfigError, match="unsupported backend 'mysql'"):
        open_engine("mysql://u:secret@host/db")


def test_a_bare_postgresql_url_means_psycopg_3():
    engine = open_engine("postgresql://ebus@127.0.0.1/ebus")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


def test_display_url_hides_the_password():
    shown = display_url("postgresql+psycopg://ebus:s3cret@db/ebus")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://ebus:***@db/ebus"


def test_opening_without_create_refuses_a_missing_sqlite_file_and_creates_nothing(
    tmp_path: Path,
):
    path = tmp_path / "var" / "ebus.db"
    with pytest.raises(ConfigError, match="no store at"):
        Database.open(f"sqlite:///{path}", create=False)
    assert not path.parent.exists()


def test_opening_twice_keeps_the_tables_and_their_rows(store_url: str):
    with Database.open(store_url) as db, db.write() as conn:
        conn.execute(text("INSERT INTO ebus_cursors VALUES ('a', '{}', '2024-01-01')"))
    with Database.open(store_url) as db, db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM ebus_cursors")).scalar_one() == 1


def test_several_workers_opening_a_new_store_at_once_all_succeed(store_url: str):
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_it() -> None:
        try:
            barrier.wait(10)
            Database.open(store_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_store_of_another_schema_version_is_refused(db: Database, store_url: str):
    with db.write() as conn:
        conn.execute(update(schema_version).values(version=SCHEMA_VERSION + 1))
    with pytest.raises(ConfigError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Database.open(store_url)


@pytest.mark.parametrize(
    "dialect",
    [
        pytest.param(sqlite.dialect(), id="sqlite"),
        pytest.param(postgresql.dialect(), id="postgresql"),
    ],
)
def test_utc_datetime_refuses_a_naive_datetime(dialect):
    with pytest.raises(ValueError, match="naive datetime"):
        UtcDateTime().process_bind_param(dt.datetime(2024, 5, 1, 10), dialect)


def test_utc_datetime_stores_utc_and_reads_back_an_aware_utc_datetime():
    shanghai = dt.timezone(dt.timedelta(hours=8))
    stored = UtcDateTime().process_bind_param(
        dt.datetime(2024, 5, 1, 10, tzinfo=shanghai), sqlite.dialect()
    )
    assert stored == dt.datetime(2024, 5, 1, 2)
    read = UtcDateTime().process_result_value(stored, sqlite.dialect())
    assert read == dt.datetime(2024, 5, 1, 2, tzinfo=dt.UTC)
    assert read is not None
    assert read.tzinfo is dt.UTC
