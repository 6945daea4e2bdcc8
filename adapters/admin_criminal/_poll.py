"""The inbound side of admin_criminal: one poll cycle drains the police side's receipts queue.

Each waiting message (README §2.1, §6) is settled before the next is taken:

1. its signature is checked (§2.3, with the police key): a bad one is dead-lettered on the bus
   (``ctx.reject``, a security alert in the log) and ``basic.reject(requeue=false)``-ed, so
   the police side's DLQ has it too;
2. its AMQP ``type`` picks the message type (T2); an unknown type, a body that is not a UTF-8
   JSON object, or a body whose ``msgType`` / ``msgId`` differ from the signed ``type`` /
   ``message_id`` properties are refused the same way;
3. a ``msgId`` already taken (quirk Q2: re-published or redelivered) is acknowledged and
   nothing is forwarded;
4. it is mapped as the bus will map it (``ctx.check``: ``mappings/admin_criminal/<type>.yaml``
   and the canonical schema): a missing required field or a failed USCC check is refused the
   same way as a bad signature (§8: permanent, ``basic.reject(requeue=false)``);
5. otherwise the raw message (body bytes as received, BOM included; properties and headers as
   ``RawMessage.headers``) is emitted to the bus — stored durably — then remembered and
   acknowledged. When the bus cannot store it the message is ``basic.nack(requeue=true)``-ed and
   the cycle ends with ``TransientError``.
"""

from __future__ import annotations

import codecs
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from adapters._transports.amqp_peer import AmqpDelivery, AmqpPeer, PeerSettings, Verdict
from adapters.admin_criminal._config import AdminCriminalConfig, as_config
from adapters.admin_criminal._signing import key_bytes, verify
from runner.adapter_api import (
    AdapterConfig,
    MessageRejected,
    PollContext,
    RawMessage,
    TransientError,
)

__all__ = ["ANSWER_TYPES", "QUEUE_MESSAGE", "close_links", "handle_delivery", "poll", "raw_message"]

log = logging.getLogger("ebus.adapters.admin_criminal")

ANSWER_TYPES: Mapping[str, str] = {
    "QSHZ": "receipt_signed",
    "LAJD": "filing_decision",
    "BYLAJD": "non_filing_decision",
    "FYJD": "reconsideration_decision",
    "ZS": "forward_notice",
    "FXYS": "reverse_transfer",
}
"""AMQP ``type`` / ``msgType`` (T2) → bus message type."""

QUEUE_MESSAGE = "receipt_signed"
"""The message type a refusal is filed under when the type itself is unknown or absent (the
first message type of the receipts queue in the README's table)."""

MAX_BODY = 8 * 1024 * 1024
"""The largest answer body taken (8 MiB, the bus's document limit)."""


class _Links:
    """One consumer link per peer, kept across poll cycles (heartbeats keep it alive)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peers: dict[PeerSettings, AmqpPeer] = {}

    def get(self, settings: PeerSettings) -> AmqpPeer:
        with self._lock:
            if settings not in self._peers:
                self._peers[settings] = AmqpPeer("admin_criminal", settings)
            return self._peers[settings]

    def close(self) -> None:
        with self._lock:
            peers, self._peers = list(self._peers.values()), {}
        for peer in peers:
            peer.close()


_LINKS = _Links()


def close_links() -> None:
    """Close the consumer links of every poller of this process (tests, shutdown)."""
    _LINKS.close()


def raw_message(delivery: AmqpDelivery, ctx: PollContext) -> RawMessage:
    """The delivery as the bus stores it: exact body; properties and headers as text."""
    headers = {name: str(value) for name, value in delivery.properties.items()}
    headers |= {name.lower(): str(value) for name, value in delivery.headers.items()}
    meta = {"queue": delivery.queue, "redelivered": "true" if delivery.redelivered else "false"}
    return RawMessage(delivery.body, headers, meta, ctx.now)


def _body(delivery: AmqpDelivery, wire_type: str) -> dict[str, Any]:
    """The JSON object of an answer, checked against its signed properties (quirk Q6: a BOM
    and CRLF pretty-printing are accepted)."""
    if len(delivery.body) > MAX_BODY:
        raise MessageRejected(
            f"body of {len(delivery.body)} bytes exceeds {MAX_BODY} bytes", rule="too_large"
        )
    try:
        document = json.loads(delivery.body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except UnicodeDecodeError:
        raise MessageRejected("the body is not UTF-8", rule="undecodable") from None
    except ValueError as exc:
        raise MessageRejected(
            f"the body is not JSON (line {getattr(exc, 'lineno', '?')})", rule="malformed_json"
        ) from None
    if not isinstance(document, dict):
        raise MessageRejected("the body is not a JSON object", rule="malformed_json")
    if document.get("msgType") != wire_type:
        raise MessageRejected(
            f"msgType differs from the signed AMQP type '{wire_type}'",
            field="msgType",
            rule="type_mismatch",
        )
    msg_id = document.get("msgId")
    if not isinstance(msg_id, str) or msg_id != delivery.properties.get("message_id"):
        raise MessageRejected(
            "msgId differs from the signed AMQP message_id", field="msgId", rule="msgid_mismatch"
        )
    return document


def _refuse(ctx: PollContext, message: str, raw: RawMessage, error: MessageRejected) -> Verdict:
    """Dead-letter on the bus, then ``basic.reject`` (the police DLQ); requeue if not stored."""
    try:
        ctx.reject(message, raw, error)
    except Exception as exc:
        raise TransientError(
            f"admin_criminal: the bus could not dead-letter a refused {message}: "
            f"{type(exc).__name__}",
            code="BUS_UNAVAILABLE",
        ) from exc
    return "reject"


def handle_delivery(
    ctx: PollContext, settings: AdminCriminalConfig, key: bytes, delivery: AmqpDelivery
) -> Verdict:
    """Settle one delivery (see the module docstring); exceptions mean "requeue"."""
    raw = raw_message(delivery, ctx)
    wire_type = str(delivery.properties.get("type") or "")
    message = ANSWER_TYPES.get(wire_type)
    try:
        verify(key, settings.peer_app_id, delivery.body, delivery.properties, delivery.headers)
    except MessageRejected as exc:
        log.warning(
            "security alert: admin_criminal message refused (%s, %s, type %s)",
            exc.rule,
            exc.field,
            wire_type[:20],
        )
        return _refuse(ctx, message or QUEUE_MESSAGE, raw, exc)
    if message is None:
        error = MessageRejected(
            f"AMQP type '{wire_type[:20]}' is not an answer type (T2)",
            field="properties.type",
            rule="unknown_msg_type",
        )
        return _refuse(ctx, QUEUE_MESSAGE, raw, error)
    try:
        msg_id = str(_body(delivery, wire_type)["msgId"])
    except MessageRejected as exc:
        return _refuse(ctx, message, raw, exc)
    fact = f"answer:{msg_id}"
    try:
        if ctx.recall(fact) is not None:
            return "ack"  # quirk Q2: already taken, nothing forwarded
        refused = ctx.check(message, raw)  # a missing field, a bad USCC: the police DLQ (§8)
    except Exception as exc:
        raise TransientError(
            f"admin_criminal: the bus could not check {message} {msg_id}: {type(exc).__name__}",
            code="BUS_UNAVAILABLE",
        ) from exc
    if refused is not None:
        return _refuse(ctx, message, raw, refused)
    try:
        ctx.emit(message, raw)
        ctx.remember(fact, {"type": wire_type, "received_at": ctx.now.isoformat()})
    except Exception as exc:
        raise TransientError(
            f"admin_criminal: the bus could not store {message} {msg_id}: {type(exc).__name__}",
            code="BUS_UNAVAILABLE",
        ) from exc
    return "ack"


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``SPEC.poll``: drain up to ``max_per_cycle`` answers from ``receipts_queue``."""
    settings = as_config(config)
    key = key_bytes(settings.police_key.get_secret_value())
    peer = _LINKS.get(settings.peer())
    peer.drain(
        settings.receipts_queue,
        lambda delivery: handle_delivery(ctx, settings, key, delivery),
        limit=settings.max_per_cycle,
    )
