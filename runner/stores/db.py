"""Opening a store database and the transactions the stores run in.

One ``Database`` (one SQLAlchemy engine, one connection pool) per process: a worker opens it at
start and hands it to every store; no store opens an engine of its own. After ``fork()`` the child
must call ``database.engine.dispose(close=False)`` before its first query (or open its own).

Two backends, the same code:

- SQLite (``sqlite:///var/ebus.db``, the embedded default): the parent directory is created, every
  connection gets ``journal_mode=WAL``, ``synchronous=NORMAL`` (durable when a process is killed;
  the last commits may be lost on power loss) and a ``busy_timeout``, and write transactions start
  with ``BEGIN IMMEDIATE`` so that concurrent writers queue instead of failing mid-transaction.
  Many processes on one machine may share the file; several machines may not.
- PostgreSQL (``postgresql+psycopg://user@host/db``): a connection pool with pre-ping. A store in a
  schema other than ``public`` is chosen in the URL:
  ``postgresql+psycopg://ebus@db/ebus?options=-csearch_path%3Debus``. Writers that must be
  serialised (the audit chain) take a transaction-level advisory lock, see ``Database.lock``.

Example::

    with Database.open("sqlite:///var/ebus.db") as db:
        audit = AuditStore(db)
        audit.append(AuditEvent(kind="received", system="eco_env", ...))
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from runner.errors import ConfigError
from runner.stores import _tables

__all__ = ["DEFAULT_URL", "SQLITE_BUSY_TIMEOUT_MS", "Database", "display_url", "open_engine"]

DEFAULT_URL = "sqlite:///var/ebus.db"
"""The embedded store, relative to the working directory."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another one before giving up with ``database is locked``."""

_WRITE = "ebus_write"  # execution option: this transaction writes (BEGIN IMMEDIATE on SQLite)
_LOCK_NAMESPACE = 0x65627573  # "ebus": first key of our two-key advisory locks
_DDL_LOCK_KEY = 1  # second key of the lock that serialises table creation

Insert = postgresql.Insert | sqlite.Insert


def display_url(url: str | URL) -> str:
    """The URL with its password hidden, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable store URL>"


def open_engine(url: str | URL) -> Engine:
    """An engine for a SQLite or PostgreSQL store URL, configured as the module docstring says.

    ``postgresql://`` without a driver means psycopg 3. Any other backend, or an in-memory SQLite
    database (not durable, and private to one connection), is a ``ConfigError``.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"store URL {display_url(url)} is not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800
        )
    raise ConfigError(
        f"store URL {display_url(parsed)}: unsupported backend {backend!r}; "
        "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        raise ConfigError(
            f"store URL {display_url(url)}: an in-memory SQLite store is not durable; "
            "give a file, e.g. sqlite:///var/ebus.db"
        )
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Transactions are ours (see _sqlite_on_begin), not the sqlite3 module's implicit ones.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch to WAL (persistent in the file), retrying while another opener holds a lock.

    The switch can fail with ``database is locked`` without waiting for the busy timeout when
    several processes open a new file at once, hence the loop.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
            continue
        if mode != "wal":
            raise ConfigError(f"SQLite refused WAL mode (got {mode!r}): use a local file system")
        return


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """The engine and tables of a store; the stores take one of these and share it.

    Close it (or use it as a context manager) to release the pooled connections.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata = _tables.metadata
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str | URL = DEFAULT_URL, *, create: bool = True) -> Database:
        """Open the store at ``url`` and create its tables where missing.

        With ``create=False`` a SQLite file that does not exist is a ``ConfigError`` instead of a
        new empty store (what an operator command wants). A store written by another schema
        version is a ``ConfigError`` either way.
        """
        if not create:
            _require_existing_sqlite_file(url)
        database = cls(open_engine(url))
        try:
            database.create_tables()
        except BaseException:
            database.close()
            raise
        return database

    def create_tables(self) -> None:
        """Create missing tables and check the recorded schema version, safe to run concurrently."""
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                    {"ns": _LOCK_NAMESPACE, "key": _DDL_LOCK_KEY},
                )
            self.metadata.create_all(conn)
            table = _tables.schema_version
            conn.execute(
                self.insert_ignore(table, ["id"]).values(id=1, version=_tables.SCHEMA_VERSION)
            )
            found = conn.execute(select(table.c.version).where(table.c.id == 1)).scalar_one()
        if found != _tables.SCHEMA_VERSION:
            raise ConfigError(
                f"store {display_url(self.engine.url)} has schema version {found}, this ebus "
                f"needs {_tables.SCHEMA_VERSION}: migrate the store or use a matching ebus"
            )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on exit and rolled back on error.

        On SQLite it starts with ``BEGIN IMMEDIATE``: it takes the write lock at once (waiting up
        to the busy timeout) so two writers never deadlock upgrading a read lock.
        """
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction; with ``snapshot`` every statement in it sees the same data.

        SQLite (WAL) always reads from one snapshot per transaction; PostgreSQL needs
        ``REPEATABLE READ`` for that, which ``snapshot`` asks for.
        """
        with self.engine.connect() as conn:
            if snapshot and self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def within(
        self, conn: Connection | None, *, write: bool = False
    ) -> AbstractContextManager[Connection]:
        """``conn`` when the caller already holds a transaction (its statements join it), else a
        new read or write transaction: lets one call site batch several stores' statements."""
        if conn is not None:
            return nullcontext(conn)
        return self.write() if write else self.read()

    def lock(self, conn: Connection, table: Table) -> None:
        """Serialise this write transaction with every other one that locks ``table``.

        PostgreSQL: ``pg_advisory_xact_lock`` keyed by the table's oid, so stores in different
        schemas of one database do not wait for each other; released at commit or rollback.
        SQLite: nothing to do, ``BEGIN IMMEDIATE`` already holds the database's write lock.
        """
        if self.dialect != "postgresql":
            return
        conn.execute(
            text(
                "SELECT pg_advisory_xact_lock("
                ":ns, CAST(CAST(CAST(:rel AS regclass) AS oid) AS integer))"
            ),
            {"ns": _LOCK_NAMESPACE, "rel": table.name},
        )

    def insert_ignore(self, table: Table, keys: Sequence[str]) -> Insert:
        """``INSERT … ON CONFLICT (keys) DO NOTHING`` in this database's dialect."""
        return self._insert(table).on_conflict_do_nothing(index_elements=list(keys))

    def upsert(self, table: Table, keys: Sequence[str]) -> Insert:
        """``INSERT … ON CONFLICT (keys) DO UPDATE`` setting every non-key column to the new row."""
        stmt = self._insert(table)
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)

    def _insert(self, table: Table) -> Insert:
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    def close(self) -> None:
        """Close every pooled connection; the object must not be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({display_url(self.engine.url)!r})"


def _require_existing_sqlite_file(url: str | URL) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # open_engine reports it
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database).expanduser()
        if parsed.database != ":memory:" and not path.exists():
            raise ConfigError(f"no store at {path} (store URL {display_url(parsed)})")
