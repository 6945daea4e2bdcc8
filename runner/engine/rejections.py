"""One way to refuse an inbound message: dead-letter it with its reason and audit the refusal.

Used by the inbound worker (a message its mapping refuses), pollers (a file or AMQP message
refused before it is emitted) and the webhook endpoint (a pushed request refused before it is
stored). The stored body is the message as it travels on its inbound queue, so ``ebus dlq
replay`` puts it back where it came from.
"""

from __future__ import annotations

from runner.bus import OutMessage
from runner.engine.services import Services
from runner.errors import MessageRejected
from runner.logs import get_logger
from runner.stores.audit import AuditEvent
from runner.stores.dead_letters import DeadLetter

__all__ = ["dead_letter", "rejection_event"]

log = get_logger("ebus.inbound")


def rejection_event(error: MessageRejected) -> AuditEvent:
    """The audit event of a refused inbound message (reason, rule and field; never a value)."""
    return AuditEvent(
        kind="rejected",
        system=error.system,
        message_type=error.message,
        source_message_id=error.source_message_id,
        detail={"rule": error.rule, "field": error.field, "reason": error.reason[:300]},
    )


def dead_letter(
    services: Services, error: MessageRejected, raw: OutMessage, *, audit: bool = True
) -> AuditEvent:
    """Dead-letter ``raw`` (an encoded inbound message) for ``error``; append the audit event
    unless ``audit`` is False (a batch appends its events together) and return it."""
    services.dead_letters.put(
        DeadLetter.from_error(
            error,
            stage="inbound",
            body=raw.body,
            headers={k: v for k, v in raw.headers.items() if v is not None},
        )
    )
    event = rejection_event(error)
    if audit:
        services.audit.record_many([event])
    log.warning(
        "rejected", system=error.system, message=error.message, rule=error.rule, field=error.field
    )
    return event
