"""Proposals from the threshold rules: a hit *proposes* a transfer, never more.

A penalty decision is first recorded in the repeat-offender ledger, then the case or decision is
checked against the rules; the first hit proposes a transfer (status ``proposed``, numbered
``YS-<division>-<year>-<n>``), at most one per case. Every hit is audited, proposed or not.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from runner.transfers import _tables as t
from runner.transfers._audit import append_in
from runner.transfers._common import BUS_ACTOR, Core, NewStep, audit_now, event
from runner.transfers.commit import commit
from runner.transfers.rules import Hit
from runner.transfers.store import allocate_number
from schemas.timeutil import SHANGHAI

__all__ = ["check", "propose", "remember_agency"]


class _AlreadyProposed(Exception):
    """Internal: roll a proposal back, the case has one already."""


def check(core: Core, view: Mapping[str, Any]) -> list[str]:
    """Record a penalty in the ledger, run the rules; returns the transfer ids proposed."""
    payload = view.get("payload") or {}
    remember_agency(core, payload.get("agency"))
    core.ledger.record(view)
    hits = core.rules.evaluate(view, core.ledger.count_prior)
    if not hits:
        return []
    proposed = propose(core, view, hits)
    return [proposed] if proposed else []


def propose(core: Core, view: Mapping[str, Any], hits: Sequence[Hit]) -> str | None:
    """Propose a transfer for the case of ``view`` (at most one per case); its id or None."""
    payload = view.get("payload") or {}
    case_code = view.get("case_code") or payload.get("case_code")
    agency = payload.get("agency") or {}
    hit = hits[0]
    base = {
        "rule_id": hit.rule_id,
        "rules": [h.rule_id for h in hits],
        "figures": hit.figures,
        "source": hit.source,
        "cause": view.get("message_id"),
    }
    if not case_code or not agency.get("division_code"):
        audit_now(core.db, None, "rule_hit", view, {**base, "proposed": False, "why": "no case"})
        return None
    now = core.clock()
    try:
        with core.db.write() as conn:
            transfer_id = _create_proposal(core, conn, view, case_code, agency, hit, now)
            append_in(
                core.db,
                conn,
                [
                    event(
                        "rule_hit",
                        case_code,
                        view,
                        {**base, "proposed": True, "transfer_id": transfer_id},
                    )
                ],
            )
    except _AlreadyProposed as exc:
        detail = {**base, "proposed": False, "why": "case already has a transfer"}
        detail["transfer_id"] = str(exc)
        audit_now(core.db, case_code, "rule_hit", view, detail)
        return None
    return transfer_id


def remember_agency(core: Core, agency: Mapping[str, Any] | None) -> None:
    """Remember an agency (name, uscc, division_code, domain) so a reverse transfer
    addressed to it by name can open a case there; one without a name or domain is ignored."""
    if not agency or not agency.get("name") or agency.get("domain") is None:
        return
    with core.db.write() as conn:
        conn.execute(
            core.db.upsert(t.agencies, ["name"]).values(
                name=agency["name"],
                agency=json.dumps(dict(agency), ensure_ascii=False, sort_keys=True),
                updated_at=dt.datetime.now(dt.UTC),
            )
        )


def _create_proposal(
    core: Core,
    conn: Connection,
    view: Mapping[str, Any],
    case_code: str,
    agency: Mapping[str, Any],
    hit: Hit,
    now: dt.datetime,
) -> str:
    c = t.transfers.c
    existing = conn.execute(
        select(c.transfer_id).where(c.case_code == case_code, c.direction == "admin_to_criminal")
    ).first()
    if existing is not None:
        raise _AlreadyProposed(existing.transfer_id)
    prefix = f"YS-{agency['division_code']}-{now.astimezone(SHANGHAI).year}"
    transfer_id = f"{prefix}-{allocate_number(core.db, conn, prefix):04d}"
    claimed = conn.execute(
        core.db.insert_ignore(t.proposals, ["case_code"])
        .values(case_code=case_code, transfer_id=transfer_id, rule_id=hit.rule_id, proposed_at=now)
        .returning(t.proposals.c.case_code)
    ).first()
    if claimed is None:
        raise _AlreadyProposed(transfer_id)
    record = {
        "from_agency": dict(agency),
        "to_organ": None,
        "suspected_offence": hit.offence,
        "triggered_by": hit.triggered_by,
        "evidence": None,
        "documents": None,
        "source": hit.source,
    }
    step = NewStep("proposed", now, BUS_ACTOR, f"{hit.title}；依据：{hit.source}", "ebus", None)
    commit(
        core,
        conn,
        None,
        transfer_id=transfer_id,
        direction="admin_to_criminal",
        case_code=case_code,
        record=record,
        steps=[step],
        emit="full",
        causation=view.get("message_id"),
    )
    return transfer_id
