"""The statutory clocks' watcher: one overdue alert per missed deadline, exactly once.

The claim is ``claim_alert`` (a conditional update in the caller's transaction), so another
watcher, a restart, or a late closing step never raises the same alert twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from runner.stamp import new_message_id
from runner.stores.audit import AuditEvent
from runner.transfers import _tables as t
from runner.transfers._audit import append_in
from runner.transfers._common import Core, event, iso
from runner.transfers.outgoing import enqueue_alert
from runner.transfers.store import ClockRow, claim_alert

__all__ = ["alert_if_unclaimed", "watch"]


def watch(core: Core, now: dt.datetime | None = None) -> list[str]:
    """Raise the one overdue alert of every missed deadline not alerted yet; the alert ids
    this call raised (another watcher, or a restart, never raises the same one again)."""
    now = now or core.clock()
    raised = []
    for clock in core.store.due_unclaimed(now):
        with core.db.write() as conn:
            status = conn.execute(
                select(t.transfers.c.status).where(t.transfers.c.transfer_id == clock.transfer_id)
            ).scalar_one()
            events = alert_if_unclaimed(core, conn, clock, status, now)
            append_in(core.db, conn, events)
        raised += [str(e.detail["alert_id"]) for e in events]
    return raised


def alert_if_unclaimed(
    core: Core, conn: Connection, clock: ClockRow, status: str, now: dt.datetime
) -> list[AuditEvent]:
    """Claim and enqueue the overdue alert of ``clock``; its audit event, or none when another
    caller claimed it (or it is not overdue)."""
    alert_id = new_message_id()
    if not claim_alert(conn, clock, now, alert_id):
        return []
    deadline = {
        "key": clock.key,
        "name": clock.name,
        "basis": clock.basis,
        "started_at": iso(clock.started_at),
        "due_at": iso(clock.due_at),
        "closed_at": iso(clock.closed_at),
    }
    alert = {
        "alert_id": alert_id,
        "kind": "transfer_deadline_missed",
        "transfer_id": clock.transfer_id,
        "case_code": clock.case_code,
        "status": status,
        "deadline": deadline,
        "detected_at": iso(now),
    }
    enqueue_alert(core, conn, alert)
    detail = {
        "alert_id": alert_id,
        "transfer_id": clock.transfer_id,
        "deadline": clock.key,
        "due_at": deadline["due_at"],
        "closed_at": deadline["closed_at"],
        "basis": clock.basis,
    }
    return [event("overdue", clock.case_code, {}, detail)]
