"""What the parts of the transfer service share: its names, result types and audit helpers.

The constants, ``Targets``, ``Applied`` and ``UnknownTransfer`` are re-exported by
``runner.transfers.service`` (their public home); ``Core`` is what every part reads from the
service façade (its database, store, rules, clock …), looked up on each call so that a caller that
swaps the service's clock or policy is obeyed everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from runner.bus.topology import feed_target
from runner.errors import EbusError
from runner.stores.audit import AuditEvent
from runner.stores.db import Database
from runner.transfers._audit import append_in
from runner.transfers.ledger import PenaltyLedger
from runner.transfers.rules import RuleSet
from runner.transfers.statutes import ClockPolicy
from runner.transfers.store import TransferStore
from runner.transfers.workflow import IllegalTransition
from schemas.timeutil import SHANGHAI, to_canonical_datetime

__all__ = [
    "AGENCY_STEPS",
    "ALERT_SCHEMA",
    "BUS_ACTOR",
    "CASE",
    "NOTICE",
    "ORIGIN",
    "ORIGIN_HEADER",
    "PLATFORM",
    "TRANSFER",
    "Applied",
    "Core",
    "NewStep",
    "Targets",
    "UnknownTransfer",
    "audit_now",
    "event",
    "iso",
    "parse",
    "refused",
]

TRANSFER: Final = "enforcement.case_transfer.v1"
"""The schema of a case-transfer message (in and out)."""
CASE: Final = "enforcement.case.v1"
"""The schema of a case (in, and out for a reverse transfer)."""
NOTICE: Final = "enforcement.supervision_notice.v1"
"""The schema of a procuratorate notice (in)."""
PLATFORM: Final = "platform"
"""The ``source_system`` of what the agency does through the bus, and of what it publishes."""
ORIGIN_HEADER: Final = "x-ebus-origin"
"""Header on every message the transfer core publishes; its own worker skips them."""
ORIGIN: Final = "transfers"
"""The value of ``ORIGIN_HEADER`` on the transfer core's messages."""
ALERT_SCHEMA: Final = "ebus.transfer_alert.v1"
"""The ``x-ebus-schema`` of an alert (a JSON object, not a canonical envelope)."""
BUS_ACTOR: Final = "闽执法集成总线（涉刑预警）"
"""The ``history.by`` of a proposal: the bus proposes, a person decides."""

AGENCY_STEPS: Final = frozenset(
    {
        "approved",
        "refused",
        "reconsideration_requested",
        "supervision_requested",
        "items_handed_over",
    }
)
"""The steps an agency takes itself (CLI or platform command); the rest come from the police."""


class UnknownTransfer(EbusError):
    """A status change names a transfer the bus has never seen."""


@dataclass(frozen=True)
class Targets:
    """Where the transfer core publishes (bus targets: a queue or ``exchange:routing_key``)."""

    transfers: tuple[str, ...] = (feed_target(TRANSFER),)
    cases: tuple[str, ...] = (feed_target(CASE),)
    alerts: tuple[str, ...] = ("ebus.canonical:alert.case_transfer",)


@dataclass(frozen=True)
class Applied:
    """The result of one change: the transfer, its status now, and the statuses added."""

    transfer_id: str
    status: str
    added: tuple[str, ...]
    duplicate: bool = False


@dataclass(frozen=True)
class NewStep:
    """A step to add to a transfer's history, with the deadlines its message carried."""

    status: str
    at: dt.datetime
    by: str
    note: str | None
    source_system: str
    message_id: str | None
    deadlines: Mapping[str, dt.datetime | None] = field(default_factory=dict)


class Core(Protocol):
    """What the service's parts read from the ``TransferService`` façade."""

    db: Database
    store: TransferStore
    ledger: PenaltyLedger
    rules: RuleSet
    policy: ClockPolicy
    clock: Callable[[], dt.datetime]
    targets: Targets


def iso(at: dt.datetime | None) -> str | None:
    """``at`` as canonical China Standard Time text (seconds), or None."""
    return None if at is None else at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def parse(text: str) -> dt.datetime:
    """A canonical date-time text as an aware ``datetime``."""
    return to_canonical_datetime(text)


def event(
    what: str, case_code: str | None, view: Mapping[str, Any], detail: dict[str, Any]
) -> AuditEvent:
    """The audit event ``transfer.<what>`` about the message ``view`` (may be empty)."""
    return AuditEvent(
        kind=f"transfer.{what}",
        system=str(view.get("source_system") or "ebus"),
        message_type=str(view.get("schema") or TRANSFER),
        route="transfers",
        message_id=view.get("message_id"),
        source_message_id=view.get("source_message_id"),
        case_code=case_code,
        detail=detail,
    )


def audit_now(
    db: Database, case_code: str | None, what: str, view: Mapping[str, Any], detail: dict[str, Any]
) -> None:
    """Append one audit event in a transaction of its own (nothing else changed)."""
    with db.write() as conn:
        append_in(db, conn, [event(what, case_code, view, detail)])


def refused(
    db: Database, exc: IllegalTransition, case_code: str | None, view: Mapping[str, Any]
) -> None:
    """Audit a step the workflow refused, with its reason."""
    detail = {
        "transfer_id": exc.transfer_id,
        "from": exc.previous,
        "to": exc.status,
        "reason": exc.reason[:300],
    }
    audit_now(db, case_code, "refused_transition", view, detail)
