"""The inbound worker: raw wire messages in, canonical envelopes out to feeds and destinations.

For each batch from ``ebus.in.<system>.<message>``: decode, verify and map every message (a
message that cannot be mapped goes to the dead-letter store with its reason, and the batch
goes on), claim a stable message id per (source system, source message id), stamp, run the
routes' steps, publish to the canonical feeds and the delivery queues (confirmed), append the
audit events, and only then acknowledge the batch: store, then ack. A route with an ``enrich``
step hands the envelope to that lookup's queue (``runner.engine.lookups``), which goes on from
there.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.bus import ACK, Disposition, Message
from runner.engine.codec import decode_raw, envelope_message
from runner.engine.plan import RoutePlan
from runner.engine.rejections import dead_letter
from runner.engine.services import Services
from runner.engine.steps import Outbox, dispatch
from runner.engine.wire_path import map_wire
from runner.errors import MessageRejected
from runner.logs import get_logger
from runner.stamp import stamp
from runner.stores.audit import AuditEvent
from schemas.envelope import Envelope

__all__ = ["InboundWorker"]

log = get_logger("ebus.inbound")


@dataclass
class _Outbox(Outbox):
    """What one batch publishes and records, with its counts."""

    rejected: int = 0
    mapped: int = 0


class InboundWorker:
    """Maps the raw messages of one inbound queue and fans them out along its routes."""

    def __init__(
        self, services: Services, system: str, message: str, plans: Sequence[RoutePlan]
    ) -> None:
        self.services = services
        self.system = system
        self.message = message
        self.plans = tuple(plans)
        services.project.inbound_mapping(system, message)  # no mapping: fail now, not per message

    def __call__(self, batch: list[Message]) -> list[Disposition]:
        """Handle one batch (the bus handler)."""
        outbox = _Outbox()
        drafts: list[tuple[Message, Any, dt.datetime]] = []
        for item in batch:
            drafts += self._map(item, outbox)
        claims = self.services.idempotency.claim_many(
            [(self.system, draft.source_message_id) for _, draft, _ in drafts]
        )
        for (_item, draft, received), claim in zip(drafts, claims, strict=True):
            envelope = stamp(draft, message_id=claim.message_id, received_at=received)
            self._fan_out(envelope, claim.first_time, outbox)
        outbox.send(self.services)
        log.info(
            "inbound batch",
            system=self.system,
            message=self.message,
            size=len(batch),
            mapped=outbox.mapped,
            rejected=outbox.rejected,
        )
        return [ACK] * len(batch)

    def _map(self, item: Message, outbox: _Outbox) -> list[tuple[Message, Any, dt.datetime]]:
        _, _, raw = decode_raw(item)
        received = raw.received_at or dt.datetime.now(dt.UTC)
        try:
            result = map_wire(self.services, self.system, self.message, raw)
        except MessageRejected as exc:
            self._reject(exc.located(system=self.system, message=self.message), item, outbox)
            return []
        if result.outcome is not None:
            reason = (
                f"an answer, not data: outcome {result.outcome.outcome} code {result.outcome.code}"
            )
            self._reject(
                MessageRejected(
                    reason, system=self.system, message=self.message, rule="answer_not_data"
                ),
                item,
                outbox,
            )
            return []
        for rejection in result.rejected:  # one record of a page: the others go on
            self._reject(rejection, item, outbox)
        outbox.events.append(
            AuditEvent(
                kind="received",
                system=self.system,
                message_type=self.message,
                detail={"bytes": len(raw.body), "records": len(result.envelopes)},
            )
        )
        return [(item, draft, received) for draft in result.envelopes]

    def _reject(self, error: MessageRejected, item: Message, outbox: _Outbox) -> None:
        outbox.rejected += 1
        outbox.events.append(dead_letter(self.services, error, item.forward(), audit=False))

    def _fan_out(self, envelope: Envelope[Any], first_time: bool, outbox: _Outbox) -> None:
        outbox.mapped += 1
        view = envelope.model_dump(mode="json")
        forward = envelope_message(envelope, json.dumps(view, ensure_ascii=False).encode("utf-8"))
        sent_to: list[str] = []
        for plan in self.plans:
            sent_to += dispatch(self.services, plan, plan.run(view), outbox, forward)
        outbox.events.append(
            AuditEvent(
                kind="mapped",
                system=self.system,
                message_type=self.message,
                message_id=envelope.message_id,
                source_message_id=envelope.source_message_id,
                case_code=envelope.case_code,
                detail={
                    "schema": envelope.schema_name,
                    "classification": envelope.classification,
                    "to": sent_to,
                    "first_time": first_time,
                },
            )
        )
