"""The inbound path of one raw wire message, written once: the adapter's wire hooks (verify,
prepare), then the message type's mapping to canonical drafts.

The inbound worker runs it on every message it takes; the webhook endpoint runs it before it
answers the sender; a poller that must settle a message with its system before the bus maps
it (an AMQP queue whose refusals go back to the sender's dead-letter queue) runs it through
``PollContext.check``. All three see the same verdict for the same bytes.
"""

from __future__ import annotations

from runner.adapter_api import RawMessage
from runner.engine.codec import VERIFIED_BY
from runner.engine.services import Services
from runner.mapping.inbound import MapResult

__all__ = ["map_wire"]


def map_wire(
    services: Services, system: str, message: str, raw: RawMessage, *, verified: bool | None = None
) -> MapResult:
    """Map ``raw`` (message type ``message`` of ``system``) to canonical drafts.

    ``verified`` says the channel that took the message in already checked its signature;
    None reads it from the message (``VERIFIED_BY``). Raises ``MessageRejected`` for a
    message refused whole; records refused alone are in ``MapResult.rejected``.
    """
    adapter = services.project.registry.get(system)
    if verified is None:
        verified = raw.meta.get(VERIFIED_BY) is not None
    body = raw.body
    if adapter.verify is not None or adapter.prepare is not None:
        body = adapter.inbound(message, raw, services.config(system), verified=verified)
    mapping = services.project.inbound_mapping(system, message)
    return mapping.apply(body, encoding=raw.meta.get("encoding"))
