"""The one transaction every change of a transfer goes through.

``commit`` checks the new steps against the workflow (with the history known), writes the
transfer's state and its events, re-derives its statutory clocks, raises the alert of a deadline
closed late, enqueues the messages the change must publish, opens the case of a new reverse
transfer and appends the audit records, all in the caller's write transaction ``conn``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from runner.stores.audit import AuditEvent
from runner.transfers import _tables as t
from runner.transfers._audit import append_in
from runner.transfers._common import TRANSFER, Applied, Core, NewStep, iso, parse
from runner.transfers.outgoing import echo, emit_transfer
from runner.transfers.reverse import open_case
from runner.transfers.store import ClockRow, TransferRow, reconcile_clocks
from runner.transfers.watch import alert_if_unclaimed
from runner.transfers.workflow import Direction, Step, check_history, replay_clocks

__all__ = ["commit", "lock"]


def commit(
    core: Core,
    conn: Connection,
    current: TransferRow | None,
    *,
    transfer_id: str,
    direction: Direction,
    case_code: str,
    record: dict[str, Any],
    steps: Sequence[NewStep],
    emit: str,
    causation: str | None,
) -> Applied:
    """Add ``steps`` to the transfer (``current`` None: create it) with ``record``.

    ``emit`` says what to publish: ``full`` or ``delta`` (each new step), ``echo`` (another
    system's steps, see ``outgoing.echo``) or ``none``. A message or steps seen before are a
    no-op (``duplicate``); ``IllegalTransition`` when the workflow does not allow the history.
    """
    events = core.store.events(transfer_id, conn) if current else []
    seen_messages = {e.message_id for e in events if e.message_id}
    if steps and steps[0].message_id and steps[0].message_id in seen_messages:
        return Applied(transfer_id, current.status if current else "?", (), duplicate=True)
    known = {(e.status, e.at) for e in events}
    new = [s for s in steps if (s.status, s.at) not in known]
    if not new:
        return Applied(transfer_id, current.status if current else "?", (), duplicate=True)
    ordered = sorted(
        [(e.at, 0, i, e.status) for i, e in enumerate(events)]
        + [(s.at, 1, i, s.status) for i, s in enumerate(new)]
    )
    check_history(transfer_id, direction, [status for *_, status in ordered])
    now = core.clock()
    status = ordered[-1][3]
    previous = current.status if current else None
    _store_transfer(conn, current, transfer_id, direction, case_code, status, record, now)
    conn.execute(
        t.events.insert(),
        [
            {
                "transfer_id": transfer_id,
                "status": s.status,
                "at": s.at,
                "by": s.by,
                "note": s.note,
                "source_system": s.source_system,
                "message_id": s.message_id,
                "deadlines": json.dumps({k: iso(v) for k, v in s.deadlines.items()}),
                "recorded_at": now,
            }
            for s in new
        ],
    )
    clocks = _clocks(core, conn, transfer_id, direction, case_code)
    audit = [
        AuditEvent(
            kind=f"transfer.{s.status}",
            system=s.source_system,
            message_type=TRANSFER,
            route="transfers",
            message_id=s.message_id,
            case_code=case_code,
            detail={
                "transfer_id": transfer_id,
                "from": previous,
                "to": s.status,
                "at": iso(s.at),
                "by": s.by,
                "direction": direction,
            },
        )
        for s in new
    ]
    for clock in clocks:
        if clock.closed_at and clock.due_at and clock.closed_at > clock.due_at:
            audit += alert_if_unclaimed(core, conn, clock, status, now)
    final = _row(core, conn, transfer_id)
    if emit == "echo":
        echo(core, conn, final, current is None, new, clocks, causation)
    elif emit != "none":
        for s in new:
            emit_transfer(core, conn, final, s, clocks, full=emit == "full", cause=causation)
    if direction == "criminal_to_admin" and current is None:
        audit += open_case(core, conn, final, new[-1])
    append_in(core.db, conn, audit)
    return Applied(transfer_id, status, tuple(s.status for s in new))


def lock(core: Core, conn: Connection, transfer_id: str) -> TransferRow | None:
    """Lock the transfer's row for this transaction and read it; None when it does not exist."""
    row = conn.execute(
        select(t.transfers.c.transfer_id)
        .where(t.transfers.c.transfer_id == transfer_id)
        .with_for_update()
    ).first()
    return core.store.get(transfer_id, conn) if row else None


def _store_transfer(
    conn: Connection,
    current: TransferRow | None,
    transfer_id: str,
    direction: str,
    case_code: str,
    status: str,
    record: dict[str, Any],
    now: dt.datetime,
) -> None:
    values = {
        "status": status,
        "record": json.dumps(record, ensure_ascii=False, sort_keys=True),
        "updated_at": now,
    }
    if current is None:
        conn.execute(
            t.transfers.insert().values(
                transfer_id=transfer_id,
                case_code=case_code,
                direction=direction,
                created_at=now,
                **values,
            )
        )
    else:
        conn.execute(
            update(t.transfers).where(t.transfers.c.transfer_id == transfer_id).values(**values)
        )


def _clocks(
    core: Core, conn: Connection, transfer_id: str, direction: Direction, case_code: str
) -> list[ClockRow]:
    events = core.store.events(transfer_id, conn)
    steps = [
        Step(e.status, e.at, {k: parse(v) if v else None for k, v in e.deadlines.items()})
        for e in events
    ]
    found = replay_clocks(direction, steps, core.policy)
    return reconcile_clocks(core.db, conn, transfer_id, case_code, found)


def _row(core: Core, conn: Connection, transfer_id: str) -> TransferRow:
    row = core.store.get(transfer_id, conn)
    assert row is not None
    return row
