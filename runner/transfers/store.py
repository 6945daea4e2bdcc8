"""Reading the transfer tables, and the small write helpers the service composes in one
transaction (number allocation, the outbox, clock reconciliation, the one-alert claim).

Example::

    store = TransferStore(db)
    for transfer in store.list(status="approved"):
        print(transfer.transfer_id, transfer.status)
    overdue = store.overdue(now)
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select, text, update

from runner.bus import OutMessage
from runner.stores.db import Database
from runner.transfers import _tables as t
from runner.transfers.statutes import DEADLINES
from runner.transfers.workflow import ClockState

__all__ = [
    "ClockRow",
    "EventRow",
    "TransferRow",
    "TransferStore",
    "allocate_number",
    "claim_alert",
    "enqueue",
    "ensure_tables",
    "reconcile_clocks",
]

_LOCK_NAMESPACE = 0x65627573  # "ebus", as the stores' advisory locks
_DDL_LOCK_KEY = 6  # the transfer core's table creation


def ensure_tables(db: Database) -> None:
    """Create the transfer tables where missing (safe to run concurrently)."""
    if getattr(db, "_ebus_transfer_tables", False):
        return
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                {"ns": _LOCK_NAMESPACE, "key": _DDL_LOCK_KEY},
            )
        db.metadata.create_all(conn, tables=list(t.TABLES))
    db._ebus_transfer_tables = True  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TransferRow:
    """One transfer as stored: identity, current status and the merged canonical fields."""

    transfer_id: str
    case_code: str
    direction: str
    status: str
    record: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class EventRow:
    """One accepted status change."""

    id: int
    transfer_id: str
    status: str
    at: dt.datetime
    by: str
    note: str | None
    source_system: str
    message_id: str | None
    deadlines: dict[str, str | None]


@dataclass(frozen=True)
class ClockRow:
    """One statutory clock of a transfer, with its alert claim."""

    transfer_id: str
    key: str
    instance: int
    case_code: str
    name: str
    basis: str
    started_at: dt.datetime | None
    due_at: dt.datetime | None
    closed_at: dt.datetime | None
    alerted_at: dt.datetime | None
    alert_id: str | None

    def overdue(self, now: dt.datetime) -> bool:
        """Whether the deadline passed before the duty was done (or is still not done)."""
        if self.due_at is None:
            return False
        end = self.closed_at or now
        return end > self.due_at


def _transfer(row: Any) -> TransferRow:
    return TransferRow(
        row.transfer_id,
        row.case_code,
        row.direction,
        row.status,
        json.loads(row.record),
        row.created_at,
        row.updated_at,
    )


def _event(row: Any) -> EventRow:
    return EventRow(
        row.id,
        row.transfer_id,
        row.status,
        row.at,
        row.by,
        row.note,
        row.source_system,
        row.message_id,
        json.loads(row.deadlines),
    )


def _clock(row: Any) -> ClockRow:
    return ClockRow(**{c.name: row._mapping[c.name] for c in t.clocks.columns})


class TransferStore:
    """Queries over the transfer tables of one ``Database``."""

    def __init__(self, db: Database) -> None:
        ensure_tables(db)
        self.db = db

    def get(self, transfer_id: str, conn: Connection | None = None) -> TransferRow | None:
        """The transfer ``transfer_id``, or None."""
        stmt = select(t.transfers).where(t.transfers.c.transfer_id == transfer_id)
        if conn is not None:
            row = conn.execute(stmt).first()
            return _transfer(row) if row else None
        with self.db.read() as own:
            row = own.execute(stmt).first()
        return _transfer(row) if row else None

    def list(
        self, *, status: str | None = None, case_code: str | None = None, limit: int = 100
    ) -> builtins.list[TransferRow]:
        """Transfers, most recently changed first."""
        stmt = select(t.transfers).order_by(t.transfers.c.updated_at.desc()).limit(limit)
        if status:
            stmt = stmt.where(t.transfers.c.status == status)
        if case_code:
            stmt = stmt.where(t.transfers.c.case_code == case_code)
        with self.db.read() as conn:
            return [_transfer(row) for row in conn.execute(stmt)]

    def events(self, transfer_id: str, conn: Connection | None = None) -> builtins.list[EventRow]:
        """The accepted status changes of a transfer, in time order."""
        stmt = (
            select(t.events)
            .where(t.events.c.transfer_id == transfer_id)
            .order_by(t.events.c.at, t.events.c.id)
        )
        if conn is not None:
            return [_event(row) for row in conn.execute(stmt)]
        with self.db.read() as own:
            return [_event(row) for row in own.execute(stmt)]

    def clocks(self, transfer_id: str | None = None) -> builtins.list[ClockRow]:
        """The clocks of one transfer (or of all), in due order."""
        stmt = select(t.clocks).order_by(t.clocks.c.due_at, t.clocks.c.key)
        if transfer_id is not None:
            stmt = stmt.where(t.clocks.c.transfer_id == transfer_id)
        with self.db.read() as conn:
            return [_clock(row) for row in conn.execute(stmt)]

    def overdue(self, now: dt.datetime) -> builtins.list[ClockRow]:
        """Every clock whose deadline passed before its duty was done, or is still undone."""
        return [clock for clock in self.clocks() if clock.overdue(now)]

    def due_unclaimed(self, now: dt.datetime) -> builtins.list[ClockRow]:
        """Open clocks past their deadline whose alert nobody has claimed yet."""
        c = t.clocks.c
        stmt = select(t.clocks).where(
            c.closed_at.is_(None), c.alerted_at.is_(None), c.due_at.is_not(None), c.due_at < now
        )
        with self.db.read() as conn:
            return [_clock(row) for row in conn.execute(stmt)]

    def outbox(
        self, *, unsent_only: bool = False, kind: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Outbox rows (for operators and tests), oldest first."""
        stmt = select(t.outbox).order_by(t.outbox.c.id)
        if unsent_only:
            stmt = stmt.where(t.outbox.c.sent_at.is_(None))
        if kind:
            stmt = stmt.where(t.outbox.c.kind == kind)
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def notices(self, case_code: str) -> builtins.list[dict[str, Any]]:
        """The procuratorate notices attached to a case."""
        stmt = select(t.notices).where(t.notices.c.case_code == case_code)
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def agency(self, name: str, conn: Connection | None = None) -> dict[str, Any] | None:
        """An agency seen on the bus, by its name."""
        stmt = select(t.agencies.c.agency).where(t.agencies.c.name == name)
        if conn is not None:
            value = conn.execute(stmt).scalar_one_or_none()
        else:
            with self.db.read() as own:
                value = own.execute(stmt).scalar_one_or_none()
        return json.loads(value) if value else None


def allocate_number(db: Database, conn: Connection, prefix: str) -> int:
    """The next number under ``prefix`` (1, 2, …), allocated inside the caller's transaction."""
    conn.execute(db.insert_ignore(t.counters, ["prefix"]).values(prefix=prefix, value=0))
    current = conn.execute(
        select(t.counters.c.value).where(t.counters.c.prefix == prefix).with_for_update()
    ).scalar_one()
    conn.execute(update(t.counters).where(t.counters.c.prefix == prefix).values(value=current + 1))
    return int(current) + 1


def enqueue(
    conn: Connection,
    target: str,
    message: OutMessage,
    *,
    kind: str,
    transfer_id: str | None = None,
    case_code: str | None = None,
) -> None:
    """Put a message in the outbox, in the caller's transaction (relayed after commit)."""
    conn.execute(
        t.outbox.insert().values(
            message_id=message.message_id or "",
            target=target,
            kind=kind,
            transfer_id=transfer_id,
            case_code=case_code,
            headers=json.dumps(dict(message.headers), ensure_ascii=False),
            body=message.body,
            created_at=dt.datetime.now(dt.UTC),
        )
    )


def reconcile_clocks(
    db: Database, conn: Connection, transfer_id: str, case_code: str, found: Sequence[ClockState]
) -> builtins.list[ClockRow]:
    """Store the clocks derived from a history; alert claims are never touched. Returns the
    rows as stored afterwards."""
    for clock in found:
        deadline = DEADLINES[clock.key]
        values = {
            "started_at": clock.started_at,
            "due_at": clock.due_at,
            "closed_at": clock.closed_at,
        }
        key = {"transfer_id": transfer_id, "key": clock.key, "instance": clock.instance}
        inserted = conn.execute(
            db.insert_ignore(t.clocks, ["transfer_id", "key", "instance"])
            .values(**key, **values, case_code=case_code, name=deadline.name, basis=deadline.basis)
            .returning(t.clocks.c.instance)
        ).first()
        if inserted is None:
            conn.execute(
                update(t.clocks)
                .where(*(getattr(t.clocks.c, k) == v for k, v in key.items()))
                .values(**values)
            )
    rows = conn.execute(select(t.clocks).where(t.clocks.c.transfer_id == transfer_id))
    return [_clock(row) for row in rows]


def claim_alert(conn: Connection, clock: ClockRow, now: dt.datetime, alert_id: str) -> bool:
    """Claim the one overdue alert of ``clock``: True for exactly one caller, ever.

    The claim is a conditional update (``alerted_at IS NULL``) in the caller's transaction:
    PostgreSQL re-checks the condition after a concurrent claim commits, SQLite serialises
    writers, so two watchers (or a watcher and a late closing event) never both get it.
    """
    c = t.clocks.c
    result = conn.execute(
        update(t.clocks)
        .where(
            and_(
                c.transfer_id == clock.transfer_id,
                c.key == clock.key,
                c.instance == clock.instance,
                c.alerted_at.is_(None),
                c.due_at.is_not(None),
                c.due_at < now,
                or_(c.closed_at.is_(None), c.closed_at > c.due_at),
            )
        )
        .values(alerted_at=now, alert_id=alert_id)
        .returning(c.alert_id)
    ).first()
    return result is not None
