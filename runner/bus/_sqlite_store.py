"""The tables and statements of the embedded broker: one SQLite connection per thread.

Every write is one ``BEGIN IMMEDIATE`` transaction, committed with ``synchronous=FULL`` in WAL
mode, so a committed publish survives a SIGKILL and a power cut alike. A message row is ready
when ``lease_owner IS NULL AND not_before <= now``; a partial index holds only those rows, so a
claim is an index range scan however many messages are leased or delayed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runner.bus.api import BusError, Message, OutMessage
from runner.bus.topology import ExchangeKind, Topology

__all__ = ["Row", "Store", "TopologyState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ebus_messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    not_before REAL NOT NULL,
    lease_owner TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    headers TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ebus_messages_ready
    ON ebus_messages (queue, not_before, id) WHERE lease_owner IS NULL;
CREATE INDEX IF NOT EXISTS ebus_messages_leased
    ON ebus_messages (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS ebus_queues (name TEXT PRIMARY KEY, dead_letter TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ebus_exchanges (name TEXT PRIMARY KEY, kind TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ebus_bindings (
    exchange TEXT NOT NULL, queue TEXT NOT NULL, pattern TEXT NOT NULL,
    PRIMARY KEY (exchange, queue, pattern)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ebus_owners (token TEXT PRIMARY KEY, pid INTEGER, started REAL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ebus_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO ebus_meta VALUES ('topology_version', 0);
"""

_CLAIM = """
UPDATE ebus_messages SET lease_owner = ?, deliveries = deliveries + 1
WHERE id IN (
    SELECT id FROM ebus_messages
    WHERE queue = ? AND lease_owner IS NULL AND not_before <= ?
    ORDER BY not_before, id LIMIT ?
)
RETURNING id, not_before, deliveries, message_id, headers, body
"""

_NEXT_DUE = """
SELECT not_before FROM ebus_messages
WHERE queue = ? AND lease_owner IS NULL ORDER BY not_before LIMIT 1
"""

Row = tuple[str, OutMessage]
"""A message to insert and the queue it goes to."""


@dataclass(frozen=True, slots=True)
class TopologyState:
    """The declared topology as stored, at one ``topology_version``."""

    version: int
    queues: dict[str, str | None]  # name -> dead-letter queue
    exchanges: dict[str, ExchangeKind]
    bindings: tuple[tuple[str, str, str], ...]  # (exchange, queue, pattern)


class Store:
    """One connection to the broker database. Not shared between threads."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def create_schema(self) -> None:
        """Create the tables if they do not exist."""
        with self._write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def declare(self, topology: Topology) -> None:
        """Store ``topology`` (already expanded and checked) and bump the topology version."""
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO ebus_queues VALUES (?, ?)",
                [(q.name, q.dead_letter_queue) for q in topology.queues],
            )
            for exchange in topology.exchanges:
                kind = conn.execute(
                    "SELECT kind FROM ebus_exchanges WHERE name = ?", (exchange.name,)
                ).fetchone()
                if kind and kind[0] != exchange.kind:
                    raise BusError(f"exchange {exchange.name!r} exists as {kind[0]!r}")
                conn.execute(
                    "INSERT OR IGNORE INTO ebus_exchanges VALUES (?, ?)",
                    (exchange.name, exchange.kind),
                )
            conn.executemany(
                "INSERT OR IGNORE INTO ebus_bindings VALUES (?, ?, ?)",
                [(b.exchange, b.queue, b.routing_key) for b in topology.bindings],
            )
            conn.execute("UPDATE ebus_meta SET value = value + 1 WHERE key = 'topology_version'")

    def topology_version(self) -> int:
        """The counter ``declare`` bumps: a cheap check whether a cached topology is stale."""
        row = self._conn.execute(
            "SELECT value FROM ebus_meta WHERE key = 'topology_version'"
        ).fetchone()
        return int(row[0])

    def load_topology(self) -> TopologyState:
        """The stored topology."""
        conn = self._conn
        conn.execute("BEGIN")  # one snapshot for the four reads
        try:
            version = self.topology_version()
            queues = dict(conn.execute("SELECT name, dead_letter FROM ebus_queues").fetchall())
            exchanges = dict(conn.execute("SELECT name, kind FROM ebus_exchanges").fetchall())
            bindings = tuple(conn.execute("SELECT exchange, queue, pattern FROM ebus_bindings"))
        finally:
            conn.execute("COMMIT")
        return TopologyState(version, queues, exchanges, bindings)

    def insert(self, rows: Iterable[Row], not_before: float) -> None:
        """Store messages in one transaction."""
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO ebus_messages (queue, not_before, message_id, headers, body)"
                " VALUES (?, ?, ?, ?, ?)",
                [(queue, not_before, m.message_id, _dump_headers(m), m.body) for queue, m in rows],
            )

    def claim(self, queue: str, owner: str, limit: int) -> list[Message]:
        """Lease up to ``limit`` ready messages of ``queue`` to ``owner``, oldest first."""
        with self._write() as conn:
            rows = conn.execute(_CLAIM, (owner, queue, time.time(), limit)).fetchall()
        rows.sort(key=lambda r: (r[1], r[0]))
        return [
            Message(
                body=body,
                headers=json.loads(headers),
                message_id=message_id,
                delivery_tag=id_,
                redelivered=deliveries > 1,
                queue=queue,
            )
            for id_, _, deliveries, message_id, headers, body in rows
        ]

    def next_due(self, queue: str) -> float | None:
        """When the next unleased message of ``queue`` becomes ready (epoch seconds), if any."""
        row = self._conn.execute(_NEXT_DUE, (queue,)).fetchone()
        return None if row is None else float(row[0])

    def settle(
        self,
        owner: str,
        acks: Sequence[int],
        moves: Sequence[tuple[int, str, float, OutMessage]],
    ) -> int:
        """Delete acked messages and move others (requeue, dead-letter) in one transaction.

        A move is ``(id, queue, not_before, new message)``: the row goes to ``queue``, unleased,
        as a first delivery. Returns how many rows this owner still held.
        """
        with self._write() as conn:
            settled = conn.executemany(
                "DELETE FROM ebus_messages WHERE id = ? AND lease_owner = ?",
                [(id_, owner) for id_ in acks],
            ).rowcount
            settled += conn.executemany(
                "UPDATE ebus_messages SET queue = ?, not_before = ?, headers = ?,"
                " lease_owner = NULL, deliveries = 0 WHERE id = ? AND lease_owner = ?",
                [(q, at, _dump_headers(m), id_, owner) for id_, q, at, m in moves],
            ).rowcount
        return settled

    def release(self, owner: str, ids: Sequence[int] | None = None) -> None:
        """Give leased messages back (all of ``owner``'s when ``ids`` is None)."""
        with self._write() as conn:
            if ids is None:
                conn.execute(
                    "UPDATE ebus_messages SET lease_owner = NULL WHERE lease_owner = ?", (owner,)
                )
            else:
                conn.executemany(
                    "UPDATE ebus_messages SET lease_owner = NULL WHERE id = ? AND lease_owner = ?",
                    [(id_, owner) for id_ in ids],
                )

    def add_owner(self, token: str, pid: int) -> None:
        """Register a lease owner."""
        with self._write() as conn:
            conn.execute("INSERT INTO ebus_owners VALUES (?, ?, ?)", (token, pid, time.time()))

    def owners(self) -> list[str]:
        """Every registered lease owner."""
        return [r[0] for r in self._conn.execute("SELECT token FROM ebus_owners")]

    def remove_owner(self, token: str) -> int:
        """Release every lease of ``token`` and forget it; returns how many were released."""
        with self._write() as conn:
            released = conn.execute(
                "UPDATE ebus_messages SET lease_owner = NULL WHERE lease_owner = ?", (token,)
            ).rowcount
            conn.execute("DELETE FROM ebus_owners WHERE token = ?", (token,))
        return released

    def depth(self, queue: str) -> int:
        """How many messages of ``queue`` are ready now."""
        row = self._conn.execute(
            "SELECT count(*) FROM ebus_messages"
            " WHERE queue = ? AND lease_owner IS NULL AND not_before <= ?",
            (queue, time.time()),
        ).fetchone()
        return int(row[0])


def _dump_headers(message: OutMessage) -> str:
    return json.dumps(dict(message.headers), separators=(",", ":"))
