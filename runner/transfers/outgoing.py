"""The messages the transfer core writes to its outbox: case-transfer envelopes and alerts.

Everything here runs inside the caller's write transaction (``conn``); ``runner.transfers.relay``
publishes the outbox after the commit. What goes out:

- a step the agency takes (or the bus proposes) as the platform's case-transfer message, in full
  (history from the approval on, the package) or as a delta (that step only);
- the accepted steps of another system echoed as the platform's deltas (``echo``);
- alerts (a JSON object with ``x-ebus-schema`` ``ebus.transfer_alert.v1``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from runner.bus import OutMessage
from runner.engine.codec import encode_envelope
from runner.stamp import new_message_id
from runner.transfers._common import (
    ALERT_SCHEMA,
    ORIGIN,
    ORIGIN_HEADER,
    PLATFORM,
    TRANSFER,
    Core,
    NewStep,
    iso,
)
from runner.transfers.store import ClockRow, EventRow, TransferRow, enqueue
from runner.transfers.workflow import clocks_of
from schemas import ENVELOPES, PAYLOADS

__all__ = ["canonical", "echo", "emit_transfer", "enqueue_alert", "envelope"]


def canonical(
    row: TransferRow, events: Sequence[EventRow], clocks: Sequence[ClockRow]
) -> dict[str, Any]:
    """The full canonical payload of a transfer (history: every step; deadlines: all)."""
    record = row.record
    return {
        "transfer_id": row.transfer_id,
        "direction": row.direction,
        "case_code": row.case_code,
        "from_agency": record.get("from_agency"),
        "to_organ": record.get("to_organ"),
        "suspected_offence": record.get("suspected_offence"),
        "triggered_by": record.get("triggered_by"),
        "evidence": record.get("evidence"),
        "documents": record.get("documents"),
        "status": row.status,
        "deadlines": [_deadline(c) for c in clocks],
        "history": [
            {"status": e.status, "at": iso(e.at), "by": e.by, "note": e.note} for e in events
        ],
    }


def envelope(
    core: Core,
    schema: str,
    payload: dict[str, Any],
    source_message_id: str,
    occurred_at: dt.datetime,
    cause: str | None,
) -> OutMessage:
    """A validated canonical envelope of the platform, encoded with the origin header."""
    model = PAYLOADS[schema].model_validate(payload)
    validated = ENVELOPES[schema].model_validate(
        {
            "message_id": new_message_id(),
            "schema": schema,
            "source_system": PLATFORM,
            "source_message_id": source_message_id,
            "case_code": payload.get("case_code"),
            "causation_id": cause,
            "occurred_at": occurred_at,
            "received_at": core.clock(),
            "classification": model.data_class,
            "payload": payload,
        }
    )
    return encode_envelope(validated, **{ORIGIN_HEADER: ORIGIN})


def emit_transfer(
    core: Core,
    conn: Connection,
    row: TransferRow,
    step: NewStep,
    clocks: Sequence[ClockRow],
    *,
    full: bool,
    cause: str | None,
    key: str | None = None,
) -> None:
    """Enqueue ``step`` of the transfer ``row`` as a case-transfer message (full or a delta),
    with the deadlines that step started or closed."""
    keys = clocks_of(row.direction, step.status)  # type: ignore[arg-type]
    touched = [c for c in clocks if c.key in keys and step.at in (c.started_at, c.closed_at)]
    events = core.store.events(row.transfer_id, conn)
    payload = canonical(row, events, touched)
    payload["status"] = step.status
    if full:
        # The package carries the record from the approval on: "proposed" has no code on
        # the two_laws link, and the police side reads approvedAt from the history.
        history = [h for h in payload["history"] if h["status"] != "proposed"]
        payload["history"] = history or payload["history"][-1:]
    else:
        payload.update(triggered_by=None, evidence=None, documents=None)
        payload["history"] = [
            {"status": step.status, "at": iso(step.at), "by": step.by, "note": step.note}
        ]
    if key is None:
        count = len([e for e in events if e.status == step.status])
        key = f"{row.transfer_id}:{step.status}" + (f":{count}" if count > 1 else "")
    message = envelope(core, TRANSFER, payload, key, step.at, cause)
    for target in core.targets.transfers:
        enqueue(
            conn,
            target,
            message,
            kind=step.status,
            transfer_id=row.transfer_id,
            case_code=row.case_code,
        )


def echo(
    core: Core,
    conn: Connection,
    row: TransferRow,
    created: bool,
    new: Sequence[NewStep],
    clocks: Sequence[ClockRow],
    cause: str | None,
) -> None:
    """Publish the accepted steps of another system (the police side's answers) as the
    platform's deltas, in time order; when they were late (a later step is known already),
    state the current status once more, so that a consumer that keeps only the last status
    it was sent (two_laws) ends with the right one. A new reverse transfer goes in full."""
    full = created and row.direction == "criminal_to_admin"
    for step in sorted(new, key=lambda s: s.at):
        emit_transfer(core, conn, row, step, clocks, full=full, cause=cause)
    events = core.store.events(row.transfer_id, conn)
    latest = events[-1]
    if latest.at > max(s.at for s in new):
        again = NewStep(
            latest.status, latest.at, latest.by, latest.note, latest.source_system, None
        )
        key = f"{row.transfer_id}:{latest.status}:again:{len(events)}"
        emit_transfer(core, conn, row, again, clocks, full=False, cause=cause, key=key)


def enqueue_alert(core: Core, conn: Connection, alert: Mapping[str, Any]) -> None:
    """Enqueue ``alert`` (a JSON object with ``alert_id`` and ``kind``) to the alert targets."""
    body = json.dumps(alert, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {
        "x-ebus-schema": ALERT_SCHEMA,
        "x-ebus-case-code": alert.get("case_code"),
        "x-ebus-alert": alert["kind"],
        ORIGIN_HEADER: ORIGIN,
    }
    message = OutMessage(body, headers, str(alert["alert_id"]))
    for target in core.targets.alerts:
        enqueue(
            conn,
            target,
            message,
            kind=str(alert["kind"]),
            transfer_id=alert.get("transfer_id"),
            case_code=alert.get("case_code"),
        )


def _deadline(clock: ClockRow) -> dict[str, Any]:
    return {"name": clock.name, "due_at": iso(clock.due_at), "basis": clock.basis}
