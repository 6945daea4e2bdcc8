"""The dead-letter store: messages the bus gave up on, kept with a reason a person can act on.

A dead letter holds what is needed to replay it: the raw wire message (``stage="inbound"``) or the
canonical envelope JSON (``"route"``, ``"delivery"``), byte for byte, and its headers. The body may
hold L3/L4 values: it is never listed, and purging a letter wipes its body and headers while
keeping the row (status ``purged``) as a trace of what was there.

Statuses: ``dead`` → ``replayed`` (``mark_replayed``) and ``dead``/``replayed`` → ``purged``.

Example::

    store = DeadLetterStore(db)
    letter = store.put(DeadLetter.from_error(exc, stage="route", body=raw, headers=headers))
    for summary in store.list(status="dead", system="eco_env"):
        ...
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import ColumnElement, Connection, RowMapping, bindparam, func, select, update
from ulid import ULID

from runner.errors import DeliveryError, MessageRejected, PermanentError, TransientError
from runner.stores._tables import dead_letters
from runner.stores.audit import AuditEvent
from runner.stores.db import Database

__all__ = [
    "Attempt",
    "DeadLetter",
    "DeadLetterStore",
    "DeadLetterSummary",
    "Stage",
    "Status",
    "StoredDeadLetter",
    "letter_event",
]

Stage = Literal["inbound", "route", "delivery"]
Status = Literal["dead", "replayed", "purged"]

_CHUNK = 500  # ids per IN (...) list


class Attempt(BaseModel):
    """One failed attempt at delivering or processing the message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    error: str
    code: str | None = None


class DeadLetter(BaseModel):
    """A message to dead-letter, as the bus describes it; the store adds id, status and times."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str
    message_type: str
    stage: Stage
    reason: str
    body: bytes
    rule: str | None = None
    field: str | None = None
    route: str | None = None
    destination: str | None = None
    source_message_id: str | None = None
    message_id: str | None = None
    case_code: str | None = None
    attempts: tuple[Attempt, ...] = ()
    headers: dict[str, JsonValue] = Field(default_factory=dict)

    @classmethod
    def from_error(
        cls,
        error: MessageRejected | DeliveryError,
        *,
        stage: Stage,
        body: bytes,
        system: str | None = None,
        message_type: str | None = None,
        headers: Mapping[str, JsonValue] | None = None,
        attempts: Iterable[Attempt] = (),
        route: str | None = None,
        destination: str | None = None,
        source_message_id: str | None = None,
        message_id: str | None = None,
        case_code: str | None = None,
    ) -> DeadLetter:
        """A dead letter whose reason, rule and field come from the error that caused it.

        A ``MessageRejected`` also gives the system, message type and source message id when
        they are not passed; a ``DeliveryError`` needs them passed.
        """
        if isinstance(error, MessageRejected):
            system = system or error.system
            message_type = message_type or error.message
            source_message_id = source_message_id or error.source_message_id
            rule, field = error.rule, error.field
        else:
            rule, field = _delivery_rule(error), None
        return cls(
            system=system or "?",
            message_type=message_type or "?",
            stage=stage,
            reason=str(error),
            rule=rule,
            field=field,
            body=body,
            headers=dict(headers or {}),
            attempts=tuple(attempts),
            route=route,
            destination=destination,
            source_message_id=source_message_id,
            message_id=message_id,
            case_code=case_code,
        )


class StoredDeadLetter(DeadLetter):
    """A dead letter as stored, with its id (a ULID), status and times."""

    id: str
    status: Status
    created_at: AwareDatetime
    updated_at: AwareDatetime


class DeadLetterSummary(BaseModel):
    """A dead letter without its body, headers and attempts: what a listing shows."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: Status
    created_at: AwareDatetime
    stage: Stage
    system: str
    message_type: str
    route: str | None
    destination: str | None
    source_message_id: str | None
    message_id: str | None
    case_code: str | None
    reason: str
    rule: str | None
    field: str | None


_SUMMARY_COLUMNS = [dead_letters.c[name] for name in DeadLetterSummary.model_fields]


class DeadLetterStore:
    """Stores, lists, marks and purges the dead letters of one ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        c = dead_letters.c
        self._select_dead = select(c.message_id).where(
            c.message_id.in_(bindparam("ids", expanding=True)),
            c.route == bindparam("route"),
            c.destination == bindparam("destination"),
            c.status == "dead",
        )

    def put(self, letter: DeadLetter) -> StoredDeadLetter:
        """Store ``letter`` as ``dead`` under a new ULID and return it as stored."""
        now = dt.datetime.now(dt.UTC)
        stored = StoredDeadLetter(
            **dict(letter), id=str(ULID()), status="dead", created_at=now, updated_at=now
        )
        row = stored.model_dump(exclude={"attempts", "headers"})
        row["attempts"] = json.dumps([a.model_dump(mode="json") for a in stored.attempts])
        row["headers"] = json.dumps(stored.headers, ensure_ascii=False)
        with self._db.write() as conn:
            conn.execute(dead_letters.insert().values(row))
        return stored

    def get(self, letter_id: str) -> StoredDeadLetter | None:
        """The whole dead letter, body included, or None when there is no such id."""
        with self._db.read() as conn:
            row = conn.execute(select(dead_letters).where(dead_letters.c.id == letter_id)).first()
        return None if row is None else _stored(row._mapping)

    def list(
        self, status: Status | None = None, system: str | None = None, limit: int = 100
    ) -> builtins.list[DeadLetterSummary]:
        """Summaries, newest first, optionally of one status and one system."""
        query = select(*_SUMMARY_COLUMNS).where(*_filters(status, system))
        query = query.order_by(dead_letters.c.id.desc()).limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [DeadLetterSummary.model_validate(dict(row)) for row in rows]

    def dead_among(
        self,
        route: str,
        destination: str,
        message_ids: Iterable[str],
        *,
        conn: Connection | None = None,
    ) -> set[str]:
        """Which of ``message_ids`` lie dead-lettered (not replayed) for this route destination,
        read in the caller's transaction ``conn`` if given."""
        ids = list(dict.fromkeys(message_ids))
        found: set[str] = set()
        with self._db.within(conn) as tx:
            for start in range(0, len(ids), 500):
                where = {"route": route, "destination": destination}
                chunk = {**where, "ids": ids[start : start + 500]}
                found.update(row[0] for row in tx.execute(self._select_dead, chunk))
        return found

    def counts(self) -> dict[str, dict[str, int]]:
        """How many letters each system has in each status: ``{system: {status: n}}``."""
        c = dead_letters.c
        query = select(c.system, c.status, func.count()).group_by(c.system, c.status)
        out: dict[str, dict[str, int]] = {}
        with self._db.read() as conn:
            for system, status, count in conn.execute(query):
                out.setdefault(system, {})[status] = count
        return out

    def mark_replayed(self, letter_id: str) -> bool:
        """Mark a ``dead`` letter ``replayed``; False when it is not there or not ``dead``.

        Of two operators replaying the same letter, exactly one gets True.
        """
        c = dead_letters.c
        stmt = (
            update(dead_letters)
            .where(c.id == letter_id, c.status == "dead")
            .values(status="replayed", updated_at=dt.datetime.now(dt.UTC))
        )
        with self._db.write() as conn:
            return conn.execute(stmt).rowcount == 1

    def purge(self, letter_ids: Sequence[str]) -> builtins.list[DeadLetterSummary]:
        """Purge the given letters: wipe body and headers, status ``purged``.

        Returns the summaries of the letters this call purged (not those already purged or
        unknown), so the caller can audit them.
        """
        purged: builtins.list[DeadLetterSummary] = []
        with self._db.write() as conn:
            for start in range(0, len(letter_ids), _CHUNK):
                chunk = letter_ids[start : start + _CHUNK]
                purged += _purge_where(conn, dead_letters.c.id.in_(chunk))
        return purged

    def purge_all(self, system: str | None = None) -> builtins.list[DeadLetterSummary]:
        """Purge every letter not yet purged, optionally of one system only; see ``purge``."""
        with self._db.write() as conn:
            return _purge_where(conn, *_filters(None, system))


def _filters(status: Status | None, system: str | None) -> builtins.list[ColumnElement[bool]]:
    c = dead_letters.c
    out = []
    if status is not None:
        out.append(c.status == status)
    if system is not None:
        out.append(c.system == system)
    return out


def _purge_where(conn: Connection, *where: ColumnElement[bool]) -> builtins.list[DeadLetterSummary]:
    c = dead_letters.c
    stmt = (
        update(dead_letters)
        .where(c.status != "purged", *where)
        .values(status="purged", body=b"", headers="{}", updated_at=dt.datetime.now(dt.UTC))
        .returning(*_SUMMARY_COLUMNS)
    )
    rows = conn.execute(stmt).mappings().all()
    return [DeadLetterSummary.model_validate(dict(row)) for row in rows]


def _stored(row: RowMapping) -> StoredDeadLetter:
    values: dict[str, Any] = dict(row)
    values["attempts"] = json.loads(values["attempts"])
    values["headers"] = json.loads(values["headers"])
    return StoredDeadLetter.model_validate(values)


def _delivery_rule(error: DeliveryError) -> str:
    if isinstance(error, TransientError):
        return "transient"
    if isinstance(error, PermanentError):
        return "permanent"
    return "delivery"


def letter_event(
    letter: DeadLetterSummary | StoredDeadLetter, kind: str, detail: dict[str, JsonValue]
) -> AuditEvent:
    """The audit event of something done to a dead letter (``replayed``, ``purged``)."""
    return AuditEvent(
        kind=kind,
        system=letter.system,
        message_type=letter.message_type,
        route=letter.route,
        destination=letter.destination,
        message_id=letter.message_id,
        source_message_id=letter.source_message_id,
        case_code=letter.case_code,
        detail=detail,
    )
