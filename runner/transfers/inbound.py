"""Inbound answers: status changes of a transfer from the feed, and procuratorate notices.

``apply`` merges an ``enforcement.case_transfer.v1`` message (the platform's steps, the police
side's answers, a reverse transfer) into its transfer, in ``at`` order; ``attach_notice``
attaches an ``enforcement.supervision_notice.v1`` to its case and raises it as an alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from runner.stamp import new_message_id
from runner.transfers import _tables as t
from runner.transfers._audit import append_in
from runner.transfers._common import (
    PLATFORM,
    Applied,
    Core,
    NewStep,
    UnknownTransfer,
    event,
    iso,
    parse,
    refused,
)
from runner.transfers.commit import commit, lock
from runner.transfers.outgoing import enqueue_alert
from runner.transfers.statutes import deadline_by_name
from runner.transfers.workflow import Direction, IllegalTransition

__all__ = ["apply", "attach_notice", "carried_deadlines", "merged"]


def apply(core: Core, view: Mapping[str, Any]) -> Applied:
    """Merge one ``enforcement.case_transfer.v1`` message (a status change) into its transfer.

    ``UnknownTransfer`` when it continues a transfer the bus does not know;
    ``IllegalTransition`` (audited) when the workflow does not allow it. A message seen
    before is a no-op (``duplicate``).
    """
    payload = view["payload"]
    transfer_id = payload["transfer_id"]
    direction: Direction = payload["direction"]
    carried = carried_deadlines(payload.get("deadlines") or [])
    source = str(view.get("source_system") or "?")
    history = sorted(payload["history"], key=lambda h: h["at"])
    steps = [
        NewStep(
            h["status"],
            parse(h["at"]),
            h["by"],
            h.get("note"),
            source,
            view.get("message_id"),
            carried if i == len(history) - 1 else {},
        )
        for i, h in enumerate(history)
    ]
    try:
        with core.db.write() as conn:
            current = lock(core, conn, transfer_id)
            if (
                current is None
                and history[0]["status"] not in {"proposed", "approved"}
                and (direction == "admin_to_criminal")
            ):
                raise UnknownTransfer(
                    f"transfer {transfer_id}: '{payload['status']}' for a transfer the bus "
                    "does not know (never proposed, approved or transferred here)"
                )
            if current is not None and current.direction != direction:
                raise IllegalTransition(
                    transfer_id,
                    current.status,
                    payload["status"],
                    f"direction {direction} differs from the transfer's {current.direction}",
                )
            record = merged(current.record if current else {}, payload)
            applied = commit(
                core,
                conn,
                current,
                transfer_id=transfer_id,
                direction=direction,
                case_code=payload["case_code"],
                record=record,
                steps=steps,
                emit="none" if source == PLATFORM else "echo",
                causation=view.get("message_id"),
            )
    except IllegalTransition as exc:
        refused(core.db, exc, payload["case_code"], view)
        raise
    return applied


def attach_notice(core: Core, view: Mapping[str, Any]) -> bool:
    """Attach a procuratorate notice to its case and raise it as an alert; False if known."""
    payload = view["payload"]
    case_code = payload.get("case_code")
    now = core.clock()
    with core.db.write() as conn:
        transfer = None
        if case_code:
            transfer = conn.execute(
                select(t.transfers.c.transfer_id)
                .where(t.transfers.c.case_code == case_code)
                .order_by(t.transfers.c.created_at.desc())
            ).scalar()
        inserted = conn.execute(
            core.db.insert_ignore(t.notices, ["notice_no", "version"])
            .values(
                notice_no=payload["notice_no"],
                version=payload["version"],
                kind=payload["kind"],
                case_code=case_code,
                transfer_id=transfer,
                issued_by=payload["issued_by"]["name"],
                issued_at=parse(payload["issued_at"]),
                reply_due=payload.get("reply_due"),
                message_id=view["message_id"],
                recorded_at=now,
            )
            .returning(t.notices.c.version)
        ).first()
        if inserted is None:
            return False
        alert = {
            "alert_id": new_message_id(),
            "kind": "procuratorate_notice",
            "notice_kind": payload["kind"],
            "notice_no": payload["notice_no"],
            "version": payload["version"],
            "case_code": case_code,
            "transfer_id": transfer,
            "issued_by": payload["issued_by"]["name"],
            "reply_due": payload.get("reply_due"),
            "detected_at": iso(now),
        }
        enqueue_alert(core, conn, alert)
        detail = {k: alert[k] for k in ("notice_kind", "notice_no", "version", "transfer_id")}
        append_in(core.db, conn, [event("notice", case_code, view, detail)])
    return True


def merged(record: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The transfer's record with what ``payload`` adds: parties and offence when given, the
    trigger when not known yet, documents and evidence not seen before (by name, by digest)."""
    result = dict(record)
    for key in ("from_agency", "to_organ", "suspected_offence"):
        if payload.get(key) is not None:
            result[key] = payload[key]
    if payload.get("triggered_by") is not None and not result.get("triggered_by"):
        result["triggered_by"] = payload["triggered_by"]
    for key, identity in (("documents", "name"), ("evidence", "digest_value")):
        incoming = payload.get(key)
        if incoming is None:
            continue
        items = list(result.get(key) or [])
        seen = {item[identity] for item in items}
        items += [item for item in incoming if item[identity] not in seen]
        result[key] = items
    return result


def carried_deadlines(deadlines: Iterable[Mapping[str, Any]]) -> dict[str, dt.datetime | None]:
    """The deadlines a message carries, by clock key (names the statutes do not know are
    skipped)."""
    carried: dict[str, dt.datetime | None] = {}
    for item in deadlines:
        deadline = deadline_by_name(item["name"])
        if deadline is not None:
            carried[deadline.key] = parse(item["due_at"]) if item.get("due_at") else None
    return carried
