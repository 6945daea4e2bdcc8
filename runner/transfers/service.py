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

Example::

    service = TransferService(db, load_rules(REPO_ROOT / "routes" / "transfer-rules"))
    service.handle(envelope_json)                    # from the feed
    service.decide("YS-350802-2025-0001", "approved", by="局长 王某", note="同意移送")
    service.watch()                                  # claim overdue alerts, exactly once each
    service.relay(bus.publish)                       # send the outbox
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, select, update

from runner.bus import OutMessage
from runner.bus.topology import feed_target
from runner.engine.codec import encode_envelope
from runner.errors import EbusError
from runner.stamp import new_message_id
from runner.stores.audit import AuditEvent
from runner.stores.db import Database
from runner.transfers import _tables as t
from runner.transfers._audit import append_in
from runner.transfers.ledger import PenaltyLedger
from runner.transfers.package import PackageError, TransferPackage
from runner.transfers.rules import SCHEMAS, Hit, RuleSet
from runner.transfers.statutes import ClockPolicy, deadline_by_name
from runner.transfers.store import (
    ClockRow,
    EventRow,
    TransferRow,
    TransferStore,
    allocate_number,
    claim_alert,
    enqueue,
    reconcile_clocks,
)
from runner.transfers.workflow import (
    Direction,
    IllegalTransition,
    Step,
    check_history,
    clocks_of,
    replay_clocks,
)
from schemas import ENVELOPES, PAYLOADS
from schemas.timeutil import SHANGHAI, to_canonical_datetime

__all__ = [
    "AGENCY_STEPS",
    "ALERT_SCHEMA",
    "BUS_ACTOR",
    "ORIGIN",
    "ORIGIN_HEADER",
    "Applied",
    "Targets",
    "TransferService",
    "UnknownTransfer",
]

TRANSFER: Final = "enforcement.case_transfer.v1"
CASE: Final = "enforcement.case.v1"
NOTICE: Final = "enforcement.supervision_notice.v1"
PLATFORM: Final = "platform"
ORIGIN_HEADER: Final = "x-ebus-origin"
"""Header on every message the transfer core publishes; its own worker skips them."""
ORIGIN: Final = "transfers"
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
class _NewStep:
    status: str
    at: dt.datetime
    by: str
    note: str | None
    source_system: str
    message_id: str | None
    deadlines: Mapping[str, dt.datetime | None] = field(default_factory=dict)


class _AlreadyProposed(Exception):
    """Internal: roll a proposal back, the case has one already."""


def _iso(at: dt.datetime | None) -> str | None:
    return None if at is None else at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _parse(text: str) -> dt.datetime:
    return to_canonical_datetime(text)


class TransferService:
    """The transfer core over one store database (see the module docstring)."""

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
        payload = view.get("payload") or {}
        self._remember_agency(payload.get("agency"))
        self.ledger.record(view)
        hits = self.rules.evaluate(view, self.ledger.count_prior)
        if not hits:
            return []
        proposed = self.propose(view, hits)
        return [proposed] if proposed else []

    def propose(self, view: Mapping[str, Any], hits: Sequence[Hit]) -> str | None:
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
            self._audit_now(None, "rule_hit", view, {**base, "proposed": False, "why": "no case"})
            return None
        now = self.clock()
        try:
            with self.db.write() as conn:
                transfer_id = self._create_proposal(conn, view, case_code, agency, hit, now)
                append_in(
                    self.db,
                    conn,
                    [
                        self._event(
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
            self._audit_now(case_code, "rule_hit", view, detail)
            return None
        return transfer_id

    def _create_proposal(
        self,
        conn: Connection,
        view: Mapping[str, Any],
        case_code: str,
        agency: Mapping[str, Any],
        hit: Hit,
        now: dt.datetime,
    ) -> str:
        c = t.transfers.c
        existing = conn.execute(
            select(c.transfer_id).where(
                c.case_code == case_code, c.direction == "admin_to_criminal"
            )
        ).first()
        if existing is not None:
            raise _AlreadyProposed(existing.transfer_id)
        prefix = f"YS-{agency['division_code']}-{now.astimezone(SHANGHAI).year}"
        transfer_id = f"{prefix}-{allocate_number(self.db, conn, prefix):04d}"
        claimed = conn.execute(
            self.db.insert_ignore(t.proposals, ["case_code"])
            .values(
                case_code=case_code, transfer_id=transfer_id, rule_id=hit.rule_id, proposed_at=now
            )
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
        step = _NewStep(
            "proposed", now, BUS_ACTOR, f"{hit.title}；依据：{hit.source}", "ebus", None
        )
        self._commit(
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

    def apply(self, view: Mapping[str, Any]) -> Applied:
        """Merge one ``enforcement.case_transfer.v1`` message (a status change) into its transfer.

        ``UnknownTransfer`` when it continues a transfer the bus does not know;
        ``IllegalTransition`` (audited) when the workflow does not allow it. A message seen
        before is a no-op (``duplicate``).
        """
        payload = view["payload"]
        transfer_id = payload["transfer_id"]
        direction: Direction = payload["direction"]
        carried = self._carried_deadlines(payload.get("deadlines") or [])
        source = str(view.get("source_system") or "?")
        history = sorted(payload["history"], key=lambda h: h["at"])
        steps = [
            _NewStep(
                h["status"],
                _parse(h["at"]),
                h["by"],
                h.get("note"),
                source,
                view.get("message_id"),
                carried if i == len(history) - 1 else {},
            )
            for i, h in enumerate(history)
        ]
        try:
            with self.db.write() as conn:
                current = self._lock(conn, transfer_id)
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
                record = self._merged(current.record if current else {}, payload)
                applied = self._commit(
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
            self._refused(exc, payload["case_code"], view)
            raise
        return applied

    def attach_notice(self, view: Mapping[str, Any]) -> bool:
        """Attach a procuratorate notice to its case and raise it as an alert; False if known."""
        payload = view["payload"]
        case_code = payload.get("case_code")
        now = self.clock()
        with self.db.write() as conn:
            transfer = None
            if case_code:
                transfer = conn.execute(
                    select(t.transfers.c.transfer_id)
                    .where(t.transfers.c.case_code == case_code)
                    .order_by(t.transfers.c.created_at.desc())
                ).scalar()
            inserted = conn.execute(
                self.db.insert_ignore(t.notices, ["notice_no", "version"])
                .values(
                    notice_no=payload["notice_no"],
                    version=payload["version"],
                    kind=payload["kind"],
                    case_code=case_code,
                    transfer_id=transfer,
                    issued_by=payload["issued_by"]["name"],
                    issued_at=_parse(payload["issued_at"]),
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
                "detected_at": _iso(now),
            }
            self._enqueue_alert(conn, alert)
            detail = {k: alert[k] for k in ("notice_kind", "notice_no", "version", "transfer_id")}
            append_in(self.db, conn, [self._event("notice", case_code, view, detail)])
        return True

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
        if status not in AGENCY_STEPS:
            raise IllegalTransition(
                transfer_id,
                None,
                status,
                f"'{status}' is not an agency step; the agency records only "
                f"{', '.join(sorted(AGENCY_STEPS))} (the rest come from the police side)",
            )
        step = _NewStep(status, at or self.clock(), by, note, PLATFORM, None)
        return self._local_step(transfer_id, step, {"to_organ": to_organ}, emit="delta")

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
        changes: dict[str, Any] = {
            "documents": package.document_items(),
            "evidence": package.evidence_items(),
            "sha256": package.sha256_by_sm3(),
            "to_organ": to_organ,
        }
        step = _NewStep("transferred", at or self.clock(), by, None, PLATFORM, None)
        return self._local_step(transfer_id, step, changes, emit="full", need_organ=True)

    def _local_step(
        self,
        transfer_id: str,
        step: _NewStep,
        changes: Mapping[str, Any],
        *,
        emit: str,
        need_organ: bool = False,
    ) -> Applied:
        case_code = None
        try:
            with self.db.write() as conn:
                current = self._lock(conn, transfer_id)
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
                return self._commit(
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
            self._refused(exc, case_code, {"source_system": PLATFORM})
            raise

    # -- the one transaction every change goes through ----------------------------------------

    def _commit(
        self,
        conn: Connection,
        current: TransferRow | None,
        *,
        transfer_id: str,
        direction: Direction,
        case_code: str,
        record: dict[str, Any],
        steps: Sequence[_NewStep],
        emit: str,
        causation: str | None,
    ) -> Applied:
        events = self.store.events(transfer_id, conn) if current else []
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
        now = self.clock()
        status = ordered[-1][3]
        previous = current.status if current else None
        self._store_transfer(conn, current, transfer_id, direction, case_code, status, record, now)
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
                    "deadlines": json.dumps({k: _iso(v) for k, v in s.deadlines.items()}),
                    "recorded_at": now,
                }
                for s in new
            ],
        )
        clocks = self._clocks(conn, transfer_id, direction, case_code)
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
                    "at": _iso(s.at),
                    "by": s.by,
                    "direction": direction,
                },
            )
            for s in new
        ]
        for clock in clocks:
            if clock.closed_at and clock.due_at and clock.closed_at > clock.due_at:
                audit += self._alert_if_unclaimed(conn, clock, status, now)
        final = self._row(conn, transfer_id)
        if emit == "echo":
            self._echo(conn, final, current is None, new, clocks, causation)
        elif emit != "none":
            for s in new:
                self._emit_transfer(conn, final, s, clocks, full=emit == "full", cause=causation)
        if direction == "criminal_to_admin" and current is None:
            audit += self._open_case(conn, final, new[-1])
        append_in(self.db, conn, audit)
        return Applied(transfer_id, status, tuple(s.status for s in new))

    def _store_transfer(
        self,
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
        self, conn: Connection, transfer_id: str, direction: Direction, case_code: str
    ) -> list[ClockRow]:
        events = self.store.events(transfer_id, conn)
        steps = [
            Step(e.status, e.at, {k: _parse(v) if v else None for k, v in e.deadlines.items()})
            for e in events
        ]
        found = replay_clocks(direction, steps, self.policy)
        return reconcile_clocks(self.db, conn, transfer_id, case_code, found)

    def _lock(self, conn: Connection, transfer_id: str) -> TransferRow | None:
        row = conn.execute(
            select(t.transfers.c.transfer_id)
            .where(t.transfers.c.transfer_id == transfer_id)
            .with_for_update()
        ).first()
        return self.store.get(transfer_id, conn) if row else None

    def _row(self, conn: Connection, transfer_id: str) -> TransferRow:
        row = self.store.get(transfer_id, conn)
        assert row is not None
        return row

    @staticmethod
    def _merged(record: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(record)
        for key in ("from_agency", "to_organ", "suspected_offence"):
            if payload.get(key) is not None:
                merged[key] = payload[key]
        if payload.get("triggered_by") is not None and not merged.get("triggered_by"):
            merged["triggered_by"] = payload["triggered_by"]
        for key, identity in (("documents", "name"), ("evidence", "digest_value")):
            incoming = payload.get(key)
            if incoming is None:
                continue
            items = list(merged.get(key) or [])
            seen = {item[identity] for item in items}
            items += [item for item in incoming if item[identity] not in seen]
            merged[key] = items
        return merged

    @staticmethod
    def _carried_deadlines(deadlines: Iterable[Mapping[str, Any]]) -> dict[str, dt.datetime | None]:
        carried: dict[str, dt.datetime | None] = {}
        for item in deadlines:
            deadline = deadline_by_name(item["name"])
            if deadline is not None:
                carried[deadline.key] = _parse(item["due_at"]) if item.get("due_at") else None
        return carried

    # -- outgoing messages ------------------------------------------------------------------

    def canonical(
        self, row: TransferRow, events: Sequence[EventRow], clocks: Sequence[ClockRow]
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
                {"status": e.status, "at": _iso(e.at), "by": e.by, "note": e.note} for e in events
            ],
        }

    def _emit_transfer(
        self,
        conn: Connection,
        row: TransferRow,
        step: _NewStep,
        clocks: Sequence[ClockRow],
        *,
        full: bool,
        cause: str | None,
        key: str | None = None,
    ) -> None:
        keys = clocks_of(row.direction, step.status)  # type: ignore[arg-type]
        touched = [c for c in clocks if c.key in keys and step.at in (c.started_at, c.closed_at)]
        events = self.store.events(row.transfer_id, conn)
        payload = self.canonical(row, events, touched)
        payload["status"] = step.status
        if full:
            # The package carries the record from the approval on: "proposed" has no code on
            # the two_laws link, and the police side reads approvedAt from the history.
            history = [h for h in payload["history"] if h["status"] != "proposed"]
            payload["history"] = history or payload["history"][-1:]
        else:
            payload.update(triggered_by=None, evidence=None, documents=None)
            payload["history"] = [
                {"status": step.status, "at": _iso(step.at), "by": step.by, "note": step.note}
            ]
        if key is None:
            count = len([e for e in events if e.status == step.status])
            key = f"{row.transfer_id}:{step.status}" + (f":{count}" if count > 1 else "")
        message = self._envelope(TRANSFER, payload, key, step.at, cause)
        for target in self.targets.transfers:
            enqueue(
                conn,
                target,
                message,
                kind=step.status,
                transfer_id=row.transfer_id,
                case_code=row.case_code,
            )

    def _echo(
        self,
        conn: Connection,
        row: TransferRow,
        created: bool,
        new: Sequence[_NewStep],
        clocks: Sequence[ClockRow],
        cause: str | None,
    ) -> None:
        """Publish the accepted steps of another system (the police side's answers) as the
        platform's deltas, in time order; when they were late (a later step is known already),
        state the current status once more, so that a consumer that keeps only the last status
        it was sent (two_laws) ends with the right one. A new reverse transfer goes in full."""
        full = created and row.direction == "criminal_to_admin"
        for step in sorted(new, key=lambda s: s.at):
            self._emit_transfer(conn, row, step, clocks, full=full, cause=cause)
        events = self.store.events(row.transfer_id, conn)
        latest = events[-1]
        if latest.at > max(s.at for s in new):
            again = _NewStep(
                latest.status, latest.at, latest.by, latest.note, latest.source_system, None
            )
            key = f"{row.transfer_id}:{latest.status}:again:{len(events)}"
            self._emit_transfer(conn, row, again, clocks, full=False, cause=cause, key=key)

    def _envelope(
        self,
        schema: str,
        payload: dict[str, Any],
        source_message_id: str,
        occurred_at: dt.datetime,
        cause: str | None,
    ) -> OutMessage:
        model = PAYLOADS[schema].model_validate(payload)
        envelope = ENVELOPES[schema].model_validate(
            {
                "message_id": new_message_id(),
                "schema": schema,
                "source_system": PLATFORM,
                "source_message_id": source_message_id,
                "case_code": payload.get("case_code"),
                "causation_id": cause,
                "occurred_at": occurred_at,
                "received_at": self.clock(),
                "classification": model.data_class,
                "payload": payload,
            }
        )
        return encode_envelope(envelope, **{ORIGIN_HEADER: ORIGIN})

    def _open_case(self, conn: Connection, row: TransferRow, step: _NewStep) -> list[AuditEvent]:
        """A reverse transfer (Art. 13) opens an administrative case, ``case_source``
        ``transfer_back``, at the receiving agency (found among the agencies seen on the bus)."""
        organ = row.record.get("to_organ") or {}
        agency = self.store.agency(str(organ.get("name")), conn) if organ.get("name") else None
        detail: dict[str, Any] = {"transfer_id": row.transfer_id, "agency": organ.get("name")}
        if agency is None or agency.get("domain") is None:
            alert = {
                "alert_id": new_message_id(),
                "kind": "reverse_transfer_unaddressed",
                "transfer_id": row.transfer_id,
                "case_code": row.case_code,
                "agency": organ.get("name"),
                "detected_at": _iso(self.clock()),
            }
            self._enqueue_alert(conn, alert)
            return [
                self._event(
                    "case_not_opened", row.case_code, {}, {**detail, "why": "agency unknown"}
                )
            ]
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
            "registered_at": _iso(step.at),
            "closed_at": None,
            "violation_type": None,
            "facts": None,
            "legal_basis": [],
            "involved_amount_yuan": None,
            "officers": [],
        }
        message = self._envelope(CASE, payload, f"{row.transfer_id}:case", step.at, step.message_id)
        for target in self.targets.cases:
            enqueue(
                conn,
                target,
                message,
                kind="case_opened",
                transfer_id=row.transfer_id,
                case_code=row.case_code,
            )
        return [
            self._event(
                "case_opened", row.case_code, {}, {**detail, "case_source": "transfer_back"}
            )
        ]

    def _enqueue_alert(self, conn: Connection, alert: Mapping[str, Any]) -> None:
        body = json.dumps(alert, ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {
            "x-ebus-schema": ALERT_SCHEMA,
            "x-ebus-case-code": alert.get("case_code"),
            "x-ebus-alert": alert["kind"],
            ORIGIN_HEADER: ORIGIN,
        }
        message = OutMessage(body, headers, str(alert["alert_id"]))
        for target in self.targets.alerts:
            enqueue(
                conn,
                target,
                message,
                kind=str(alert["kind"]),
                transfer_id=alert.get("transfer_id"),
                case_code=alert.get("case_code"),
            )

    # -- statutory clocks ---------------------------------------------------------------------

    def watch(self, now: dt.datetime | None = None) -> list[str]:
        """Raise the one overdue alert of every missed deadline not alerted yet; the alert ids
        this call raised (another watcher, or a restart, never raises the same one again)."""
        now = now or self.clock()
        raised = []
        for clock in self.store.due_unclaimed(now):
            with self.db.write() as conn:
                status = conn.execute(
                    select(t.transfers.c.status).where(
                        t.transfers.c.transfer_id == clock.transfer_id
                    )
                ).scalar_one()
                events = self._alert_if_unclaimed(conn, clock, status, now)
                append_in(self.db, conn, events)
            raised += [str(e.detail["alert_id"]) for e in events]
        return raised

    def _alert_if_unclaimed(
        self, conn: Connection, clock: ClockRow, status: str, now: dt.datetime
    ) -> list[AuditEvent]:
        alert_id = new_message_id()
        if not claim_alert(conn, clock, now, alert_id):
            return []
        deadline = {
            "key": clock.key,
            "name": clock.name,
            "basis": clock.basis,
            "started_at": _iso(clock.started_at),
            "due_at": _iso(clock.due_at),
            "closed_at": _iso(clock.closed_at),
        }
        alert = {
            "alert_id": alert_id,
            "kind": "transfer_deadline_missed",
            "transfer_id": clock.transfer_id,
            "case_code": clock.case_code,
            "status": status,
            "deadline": deadline,
            "detected_at": _iso(now),
        }
        self._enqueue_alert(conn, alert)
        detail = {
            "alert_id": alert_id,
            "transfer_id": clock.transfer_id,
            "deadline": clock.key,
            "due_at": deadline["due_at"],
            "closed_at": deadline["closed_at"],
            "basis": clock.basis,
        }
        return [self._event("overdue", clock.case_code, {}, detail)]

    # -- the outbox ---------------------------------------------------------------------------

    def relay(self, publish: Callable[[str, Sequence[OutMessage]], None], limit: int = 200) -> int:
        """Publish unsent outbox messages (oldest first) and mark them sent; how many.

        Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several relays share
        the work; a crash after publishing and before the commit sends them again (same ids).
        """
        c = t.outbox.c
        with self.db.write() as conn:
            stmt = select(t.outbox).where(c.sent_at.is_(None)).order_by(c.id).limit(limit)
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = conn.execute(stmt).all()
            if not rows:
                return 0
            by_target: dict[str, list[OutMessage]] = defaultdict(list)
            for row in rows:
                headers = json.loads(row.headers)
                by_target[row.target].append(OutMessage(row.body, headers, row.message_id))
            for target, messages in by_target.items():
                publish(target, messages)
            conn.execute(
                update(t.outbox)
                .where(c.id.in_([row.id for row in rows]))
                .values(sent_at=dt.datetime.now(dt.UTC))
            )
        return len(rows)

    # -- helpers ------------------------------------------------------------------------------

    def _remember_agency(self, agency: Mapping[str, Any] | None) -> None:
        if not agency or not agency.get("name") or agency.get("domain") is None:
            return
        with self.db.write() as conn:
            conn.execute(
                self.db.upsert(t.agencies, ["name"]).values(
                    name=agency["name"],
                    agency=json.dumps(dict(agency), ensure_ascii=False, sort_keys=True),
                    updated_at=dt.datetime.now(dt.UTC),
                )
            )

    def remember_agency(self, agency: Mapping[str, Any]) -> None:
        """Remember an agency (name, uscc, division_code, domain) so a reverse transfer
        addressed to it by name can open a case there."""
        self._remember_agency(agency)

    def _event(
        self, what: str, case_code: str | None, view: Mapping[str, Any], detail: dict[str, Any]
    ) -> AuditEvent:
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

    def _audit_now(
        self, case_code: str | None, what: str, view: Mapping[str, Any], detail: dict[str, Any]
    ) -> None:
        with self.db.write() as conn:
            append_in(self.db, conn, [self._event(what, case_code, view, detail)])

    def _refused(
        self, exc: IllegalTransition, case_code: str | None, view: Mapping[str, Any]
    ) -> None:
        detail = {
            "transfer_id": exc.transfer_id,
            "from": exc.previous,
            "to": exc.status,
            "reason": exc.reason[:300],
        }
        self._audit_now(case_code, "refused_transition", view, detail)


def _deadline(clock: ClockRow) -> dict[str, Any]:
    return {"name": clock.name, "due_at": _iso(clock.due_at), "basis": clock.basis}
