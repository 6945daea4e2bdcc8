"""A batch job's answers as delivery outcomes: audited, refused records dead-lettered.

A daily upload is an outbound call like a destination's, only made by a job: its answers (the
upload's receipt, the batch result asked for later) are delivery outcomes (canonical.md), not
data for a route. A job hands each answer to its context with ``emit`` under the answer's
message type (``MessageType.canonical == "delivery_outcome"``); the run's context settles it
here, the way the delivery worker settles a destination's answer, instead of publishing it to
an inbound queue nobody reads:

- the answer goes through the inbound path (``runner.engine.wire_path.map_wire``: the adapter's
  wire hooks, the mapping) to one delivery outcome;
  an answer the mapping refuses is dead-lettered (stage ``inbound``) with its reason;
- one ``received`` audit event per answer: job, date, outcome, code and the counts of
  accepted, rejected and retried records (``BatchContext`` adds them up for the run);
- per record: ``accepted`` → a ``delivered`` event (record id, code; a canonical message is
  marked delivered for the job); ``rejected`` → a dead letter (stage ``delivery``, rule = the
  peer's code, destination = the job) and a ``dead_lettered`` event; ``retry`` → ``retried``.

The job says what each record of the call carried with ``meta['call_records']``: a JSON list
in call order, one object per record, with an optional ``message_id`` (the canonical message,
read back from the day archive of the run's date: the dead letter's body and trace fields) and
an optional ``reason`` (the peer's words for a refusal, which must hold no personal value).
An answer settled before (same message type, bytes and meta: a run repeated after a crash) is
counted again but never audited or dead-lettered twice.

A refused record's dead letter cannot be replayed to a queue (no route carries it): the fix is
made at the source and travels in a later call, as the national platforms ask.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from runner.adapter_api import RawMessage
from runner.batch.jobs import Job
from runner.engine.codec import encode_raw
from runner.engine.rejections import dead_letter
from runner.engine.services import Services
from runner.engine.wire_path import map_wire
from runner.errors import MessageRejected
from runner.logs import get_logger
from runner.stores.archive import ArchiveStore
from runner.stores.audit import AuditEvent
from runner.stores.dead_letters import DeadLetter
from schemas import DeliveryOutcome

__all__ = ["OUTCOME", "Settled", "is_answer", "settle_answer"]

log = get_logger("ebus.batch")

OUTCOME = "delivery_outcome"
"""``MessageType.canonical`` of an answer."""

Memory = tuple[Callable[[str], dict[str, Any] | None], Callable[[str, dict[str, Any]], None]]
"""``(recall, remember)`` of the run's durable facts."""


@dataclass(frozen=True)
class Settled:
    """What one answer came to: its outcome (None when refused) and its record counts."""

    outcome: DeliveryOutcome | None
    accepted: int = 0
    rejected: int = 0
    retry: int = 0
    first_time: bool = True


def is_answer(services: Services, system: str, message: str) -> bool:
    """Whether ``message`` of ``system`` is an answer that maps to a delivery outcome."""
    kind = services.project.registry.get(system).message(message)
    return kind.direction == "inbound" and kind.canonical == OUTCOME


def _fingerprint(message: str, raw: RawMessage) -> str:
    digest = hashlib.sha256(message.encode("utf-8") + b"\0" + raw.body)
    digest.update(json.dumps(dict(raw.meta), sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def _call_records(raw: RawMessage) -> list[dict[str, Any]]:
    text = raw.meta.get("call_records")
    if not text:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        return []
    return [item if isinstance(item, dict) else {} for item in items or []]


def _envelopes(
    services: Services, job: Job, date: dt.date | None, ids: set[str]
) -> dict[str, dict[str, Any]]:
    """The archived envelopes of ``ids`` among the job's schemas of ``date``."""
    if not ids or date is None or not job.spec.archives:
        return {}
    day = ArchiveStore(services.db).day(job.spec.archives, date)
    return {str(e["message_id"]): e for e in day if str(e.get("message_id")) in ids}


def settle_answer(
    services: Services,
    job: Job,
    date: dt.date | None,
    message: str,
    raw: RawMessage,
    memory: Memory,
) -> Settled:
    """Map ``raw`` (an answer of ``job``'s system) to its delivery outcome and record it."""
    system = job.system
    recall, remember = memory
    fact = f"outcome:{_fingerprint(message, raw)}"
    first_time = recall(fact) is None
    try:
        result = map_wire(services, system, message, raw)
        if result.outcome is None:
            raise MessageRejected("data, not an answer", rule="not_an_answer")
    except MessageRejected as exc:
        if first_time:
            dead_letter(
                services,
                exc.located(system=system, message=message),
                encode_raw(system, message, raw),
            )
            remember(fact, {"refused": exc.rule})
        return Settled(None, first_time=first_time)
    outcome = result.outcome
    counts = {s: sum(r.status == s for r in outcome.records) for s in ("accepted", "rejected")}
    counts["retry"] = len(outcome.records) - counts["accepted"] - counts["rejected"]
    settled = Settled(outcome, counts["accepted"], counts["rejected"], counts["retry"], first_time)
    if first_time:
        _Recorder(services, job, date, message, raw).record(outcome, settled)
        remember(fact, {"outcome": outcome.outcome, "code": outcome.code, **counts})
    return settled


class _Recorder:
    """Writes the audit events and dead letters of one answer."""

    def __init__(
        self, services: Services, job: Job, date: dt.date | None, message: str, raw: RawMessage
    ) -> None:
        self.services = services
        self.job = job
        self.date = date
        self.message = message
        self.calls = _call_records(raw)
        self.events: list[AuditEvent] = []

    def record(self, outcome: DeliveryOutcome, settled: Settled) -> None:
        """Audit the answer and each of its records; dead-letter the refused ones."""
        ids = {str(c["message_id"]) for c in self.calls if c.get("message_id")}
        envelopes = _envelopes(self.services, self.job, self.date, ids)
        self._event(
            "received",
            None,
            {
                "outcome": outcome.outcome,
                "code": outcome.code,
                "accepted": settled.accepted,
                "rejected": settled.rejected,
                "retry": settled.retry,
            },
        )
        delivered: list[str] = []
        count = len(outcome.records)
        for record in outcome.records:
            call = self.calls[record.index] if record.index < len(self.calls) else {}
            envelope = envelopes.get(str(call.get("message_id")))
            detail: dict[str, JsonValue] = {
                "index": record.index,
                "record_id": record.record_id,
                "code": record.code,
            }
            if record.status == "accepted":
                if envelope is not None:
                    delivered.append(str(envelope["message_id"]))
                self._event("delivered", envelope, detail)
            elif record.status == "rejected":
                reason = self._reason(record.index, count, record.code, call.get("reason"))
                self._dead_letter(envelope, record.record_id, record.code, reason)
                self._event("dead_lettered", envelope, detail)
            else:
                self._event("retried", envelope, detail)
        if delivered:
            self.services.idempotency.mark_delivered_many(self.job.id, delivered)
        self.services.audit.record_many(self.events)
        log.info(
            "batch answer",
            job=self.job.id,
            message=self.message,
            outcome=outcome.outcome,
            code=outcome.code,
            accepted=settled.accepted,
            rejected=settled.rejected,
        )

    def _reason(self, index: int, count: int, code: str | None, said: Any) -> str:
        reason = (
            f"{self.job.system} {self.message}: the peer refused record {index + 1} of {count} "
            f"with code {code or '(none)'}"
        )
        return f"{reason}: {str(said)[:300]}" if said else reason

    def _dead_letter(
        self,
        envelope: Mapping[str, Any] | None,
        record_id: str | None,
        code: str | None,
        reason: str,
    ) -> None:
        body: Mapping[str, Any] = (
            envelope if envelope is not None else {"record_id": record_id, "code": code}
        )
        self.services.dead_letters.put(
            DeadLetter(
                system=self.job.system,
                message_type=self.message,
                stage="delivery",
                reason=reason,
                rule=code,
                body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                destination=self.job.id,
                source_message_id=envelope.get("source_message_id") if envelope else None,
                message_id=envelope.get("message_id") if envelope else None,
                case_code=envelope.get("case_code") if envelope else None,
            )
        )

    def _event(
        self, kind: str, envelope: Mapping[str, Any] | None, detail: dict[str, JsonValue]
    ) -> None:
        date = self.date.isoformat() if self.date else None
        self.events.append(
            AuditEvent(
                kind=kind,
                system=self.job.system,
                message_type=self.message,
                destination=self.job.id,
                message_id=envelope.get("message_id") if envelope else None,
                source_message_id=envelope.get("source_message_id") if envelope else None,
                case_code=envelope.get("case_code") if envelope else None,
                detail={"date": date, **detail},
            )
        )
