"""A reverse transfer (Art. 13) opens an administrative case at the receiving agency.

The agency is found by name among the agencies seen on the bus (``remember_agency``); when it is
unknown, or its domain is, no case is opened and an alert ``reverse_transfer_unaddressed`` says so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from runner.stamp import new_message_id
from runner.stores.audit import AuditEvent
from runner.transfers._common import CASE, PLATFORM, Core, NewStep, event, iso
from runner.transfers.outgoing import enqueue_alert, envelope
from runner.transfers.store import TransferRow, enqueue

__all__ = ["open_case"]


def open_case(core: Core, conn: Connection, row: TransferRow, step: NewStep) -> list[AuditEvent]:
    """A reverse transfer (Art. 13) opens an administrative case, ``case_source``
    ``transfer_back``, at the receiving agency (found among the agencies seen on the bus)."""
    organ = row.record.get("to_organ") or {}
    agency = core.store.agency(str(organ.get("name")), conn) if organ.get("name") else None
    detail: dict[str, Any] = {"transfer_id": row.transfer_id, "agency": organ.get("name")}
    if agency is None or agency.get("domain") is None:
        alert = {
            "alert_id": new_message_id(),
            "kind": "reverse_transfer_unaddressed",
            "transfer_id": row.transfer_id,
            "case_code": row.case_code,
            "agency": organ.get("name"),
            "detected_at": iso(core.clock()),
        }
        enqueue_alert(core, conn, alert)
        return [event("case_not_opened", row.case_code, {}, {**detail, "why": "agency unknown"})]
    offence = row.record.get("suspected_offence") or "涉嫌犯罪"
    payload = {
        "case_code": row.case_code,
        "source_system": PLATFORM,
        "source_case_no": row.transfer_id,
        "title": f"{offence}案件反向移送（{row.transfer_id}）",
        "domain": agency["domain"],
        "agency": agency,
        "parties": [],
        "case_source": "transfer_back",
        "procedure": "general",
        "status": "registered",
        "registered_at": iso(step.at),
        "closed_at": None,
        "violation_type": None,
        "facts": None,
        "legal_basis": [],
        "involved_amount_yuan": None,
        "officers": [],
    }
    message = envelope(core, CASE, payload, f"{row.transfer_id}:case", step.at, step.message_id)
    for target in core.targets.cases:
        enqueue(
            conn,
            target,
            message,
            kind="case_opened",
            transfer_id=row.transfer_id,
            case_code=row.case_code,
        )
    return [event("case_opened", row.case_code, {}, {**detail, "case_source": "transfer_back"})]
