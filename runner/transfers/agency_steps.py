"""The agency's own steps, taken outside the bus (``ebus transfers``, or a platform command).

``decide`` records an approval, refusal, reconsideration or supervision request, or the hand-over
of items, and publishes it as a case-transfer delta; ``send_package`` records ``transferred``
with the Art. 6 package and publishes the full record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from runner.transfers._common import (
    AGENCY_STEPS,
    PLATFORM,
    Applied,
    Core,
    NewStep,
    UnknownTransfer,
    refused,
)
from runner.transfers.commit import commit, lock
from runner.transfers.package import PackageError, TransferPackage
from runner.transfers.workflow import IllegalTransition

__all__ = ["decide", "send_package"]


def decide(
    core: Core,
    transfer_id: str,
    status: str,
    *,
    by: str,
    note: str | None = None,
    at: dt.datetime | None = None,
    to_organ: Mapping[str, str] | None = None,
) -> Applied:
    """Record an agency step (approval, refusal, reconsideration or supervision request,
    hand-over of items) taken outside the bus; publishes it as a case-transfer delta."""
    if status not in AGENCY_STEPS:
        raise IllegalTransition(
            transfer_id,
            None,
            status,
            f"'{status}' is not an agency step; the agency records only "
            f"{', '.join(sorted(AGENCY_STEPS))} (the rest come from the police side)",
        )
    step = NewStep(status, at or core.clock(), by, note, PLATFORM, None)
    return _local_step(core, transfer_id, step, {"to_organ": to_organ}, emit="delta")


def send_package(
    core: Core,
    transfer_id: str,
    package: TransferPackage,
    *,
    by: str,
    at: dt.datetime | None = None,
    to_organ: Mapping[str, str] | None = None,
) -> Applied:
    """Transfer an approved case: attach the Art. 6 package and publish the full record
    (status ``transferred``) for admin_criminal and two_laws."""
    changes: dict[str, Any] = {
        "documents": package.document_items(),
        "evidence": package.evidence_items(),
        "sha256": package.sha256_by_sm3(),
        "to_organ": to_organ,
    }
    step = NewStep("transferred", at or core.clock(), by, None, PLATFORM, None)
    return _local_step(core, transfer_id, step, changes, emit="full", need_organ=True)


def _local_step(
    core: Core,
    transfer_id: str,
    step: NewStep,
    changes: Mapping[str, Any],
    *,
    emit: str,
    need_organ: bool = False,
) -> Applied:
    case_code = None
    try:
        with core.db.write() as conn:
            current = lock(core, conn, transfer_id)
            if current is None:
                raise UnknownTransfer(f"no transfer {transfer_id}")
            case_code = current.case_code
            record = dict(current.record)
            record.update({k: v for k, v in changes.items() if v is not None})
            if need_organ and not (record.get("to_organ") and record.get("from_agency")):
                raise PackageError(
                    f"transfer {transfer_id}: the receiving organ (to_organ) is not known; "
                    "name it when approving or sending"
                )
            return commit(
                core,
                conn,
                current,
                transfer_id=transfer_id,
                direction=current.direction,  # type: ignore[arg-type]
                case_code=current.case_code,
                record=record,
                steps=[step],
                emit=emit,
                causation=None,
            )
    except IllegalTransition as exc:
        refused(core.db, exc, case_code, {"source_system": PLATFORM})
        raise
