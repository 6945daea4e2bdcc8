"""The transfer core: proposals from threshold rules, the workflow, the clocks and the outbox.

``TransferService`` is what the bus worker, the clock watcher and ``ebus transfers`` call. Every
change runs in one database transaction that writes the new state, its statutory clocks, its
audit records (hash chain) and the messages it must publish (the outbox) together, so a crash
never leaves a state change without its proof or its message. ``relay`` publishes the outbox
afterwards (at least once, each message with a stable ``message_id``).

What comes in (canonical envelopes as JSON, from the feeds):

- ``enforcement.penalty_decision.v1``: recorded in the repeat-offender ledger, then checked
  against the threshold rules; a hit *proposes* a transfer (status ``proposed``), never more;
- ``enforcement.case.v1``: checked against the rules the same way;
- ``enforcement.case_transfer.v1``: a status change of a transfer (the platform's approval,
  refusal and later steps, the police side's answers, a reverse transfer); merged in ``at``
  order, refused when the workflow does not allow it (``IllegalTransition``), dead-lettered
  when it names a transfer the bus does not know (``UnknownTransfer``);
- ``enforcement.supervision_notice.v1``: a procuratorate notice, attached to its case and raised
  as an alert.

What goes out: the proposal and every step the agency takes through the bus (the transfer package
on ``transferred``) on the case-transfer feed; every step of another system it accepted (the
police side's answers, a reverse transfer) again as the platform's delta, in time order, and,
after an answer that arrived late, the current status once more (what two_laws is sent: see
``routes/two_laws-transfers.yaml``); an ``enforcement.case.v1`` with ``case_source``
``transfer_back`` for a reverse transfer; and alerts (a missed deadline, a procuratorate notice).

Where the work lives (``TransferService`` is the façade over them): ``proposals`` (ledger,
rules, proposals), ``inbound`` (status changes, notices), ``agency_steps`` (decisions, the
package), ``commit`` (the one transaction), ``outgoing`` (envelopes, echoes, alerts),
``reverse`` (a reverse transfer's case), ``watch`` (overdue alerts), ``relay`` (the outbox);
the shared names and types are in ``_common`` and re-exported here.

Example::

    service = TransferService(db, load_rules(REPO_ROOT / "routes" / "transfer-rules"))
    service.handle(envelope_json)                    # from the feed
    service.decide("YS-350802-2025-0001", "approved", by="局长 王某", note="同意移送")
    service.watch()                                  # claim overdue alerts, exactly once each
    service.relay(bus.publish)                       # send the outbox
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runner.bus import OutMessage
from runner.stores.db import Database
from runner.transfers import agency_steps, inbound, outgoing, proposals
from runner.transfers import relay as outbox
from runner.transfers import watch as clocks_watch
from runner.transfers._common import (
    AGENCY_STEPS,
    ALERT_SCHEMA,
    BUS_ACTOR,
    CASE,
    NOTICE,
    ORIGIN,
    ORIGIN_HEADER,
    PLATFORM,
    TRANSFER,
    Applied,
    Targets,
    UnknownTransfer,
)
from runner.transfers.ledger import PenaltyLedger
from runner.transfers.package import TransferPackage
from runner.transfers.rules import SCHEMAS, Hit, RuleSet
from runner.transfers.statutes import ClockPolicy
from runner.transfers.store import ClockRow, EventRow, TransferRow, TransferStore
from schemas.timeutil import SHANGHAI

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
    "Targets",
    "TransferService",
    "UnknownTransfer",
]


class TransferService:
    """The transfer core over one store database (see the module docstring).

    A thin façade: each method hands itself (its database, store, ledger, rules, policy, clock
    and targets, read at call time) to the module that does the work: ``proposals``,
    ``inbound``, ``agency_steps``, ``watch``, ``relay`` (all through ``commit`` and
    ``outgoing``).
    """

    def __init__(
        self,
        db: Database,
        rules: RuleSet,
        *,
        policy: ClockPolicy | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        targets: Targets | None = None,
        ledger_key: bytes | None = None,
    ) -> None:
        self.db = db
        self.store = TransferStore(db)
        self.ledger = PenaltyLedger(db, ledger_key)
        self.rules = rules
        self.policy = policy or ClockPolicy()
        self.clock = clock or (lambda: dt.datetime.now(SHANGHAI).replace(microsecond=0))
        self.targets = targets or Targets()

    # -- inputs from the feeds ---------------------------------------------------------------

    def handle(self, view: Mapping[str, Any]) -> Applied | list[str] | bool | None:
        """Process one canonical envelope (JSON view) from a feed; see the module docstring."""
        schema = view.get("schema")
        if schema in SCHEMAS.values():
            return self.check(view)
        if schema == TRANSFER:
            return self.apply(view)
        if schema == NOTICE:
            return self.attach_notice(view)
        return None

    def check(self, view: Mapping[str, Any]) -> list[str]:
        """Record a penalty in the ledger, run the rules; returns the transfer ids proposed."""
        return proposals.check(self, view)

    def propose(self, view: Mapping[str, Any], hits: Sequence[Hit]) -> str | None:
        """Propose a transfer for the case of ``view`` (at most one per case); its id or None."""
        return proposals.propose(self, view, hits)

    def apply(self, view: Mapping[str, Any]) -> Applied:
        """Merge one ``enforcement.case_transfer.v1`` message (a status change) into its transfer.

        ``UnknownTransfer`` when it continues a transfer the bus does not know;
        ``IllegalTransition`` (audited) when the workflow does not allow it. A message seen
        before is a no-op (``duplicate``).
        """
        return inbound.apply(self, view)

    def attach_notice(self, view: Mapping[str, Any]) -> bool:
        """Attach a procuratorate notice to its case and raise it as an alert; False if known."""
        return inbound.attach_notice(self, view)

    # -- the agency's own steps (CLI, or a platform command) ------------------------------------

    def decide(
        self,
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
        return agency_steps.decide(
            self, transfer_id, status, by=by, note=note, at=at, to_organ=to_organ
        )

    def send_package(
        self,
        transfer_id: str,
        package: TransferPackage,
        *,
        by: str,
        at: dt.datetime | None = None,
        to_organ: Mapping[str, str] | None = None,
    ) -> Applied:
        """Transfer an approved case: attach the Art. 6 package and publish the full record
        (status ``transferred``) for admin_criminal and two_laws."""
        return agency_steps.send_package(
            self, transfer_id, package, by=by, at=at, to_organ=to_organ
        )

    # -- outgoing messages, clocks, the outbox ------------------------------------------------

    def canonical(
        self, row: TransferRow, events: Sequence[EventRow], clocks: Sequence[ClockRow]
    ) -> dict[str, Any]:
        """The full canonical payload of a transfer (history: every step; deadlines: all)."""
        return outgoing.canonical(row, events, clocks)

    def watch(self, now: dt.datetime | None = None) -> list[str]:
        """Raise the one overdue alert of every missed deadline not alerted yet; the alert ids
        this call raised (another watcher, or a restart, never raises the same one again)."""
        return clocks_watch.watch(self, now)

    def relay(self, publish: Callable[[str, Sequence[OutMessage]], None], limit: int = 200) -> int:
        """Publish unsent outbox messages (oldest first) and mark them sent; how many.

        Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several relays share
        the work; a crash after publishing and before the commit sends them again (same ids).
        """
        return outbox.relay(self.db, publish, limit)

    def remember_agency(self, agency: Mapping[str, Any]) -> None:
        """Remember an agency (name, uscc, division_code, domain) so a reverse transfer
        addressed to it by name can open a case there."""
        proposals.remember_agency(self, agency)
