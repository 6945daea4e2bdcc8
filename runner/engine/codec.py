"""How raw wire messages and canonical envelopes travel on the bus (bodies and headers).

A raw inbound message keeps its exact bytes as the body; its system, message type, receive time
and transport facts ride in headers. A canonical envelope travels as its JSON; the headers carry
what workers route on without parsing the body.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from runner.adapter_api import RawMessage
from runner.bus import Message, OutMessage
from schemas import ENVELOPES
from schemas.envelope import Envelope

__all__ = [
    "ATTEMPTS",
    "DESTINATION",
    "MESSAGE",
    "REPLAYED",
    "ROUTE",
    "SYSTEM",
    "VERIFIED_BY",
    "decode_envelope",
    "decode_raw",
    "encode_envelope",
    "encode_raw",
    "envelope_message",
]

SYSTEM = "x-ebus-system"
MESSAGE = "x-ebus-message"
RECEIVED_AT = "x-ebus-received-at"
TRANSPORT = "x-ebus-transport"
ROUTE = "x-ebus-route"
DESTINATION = "x-ebus-destination"
SCHEMA = "x-ebus-schema"
CASE_CODE = "x-ebus-case-code"
ATTEMPTS = "x-ebus-attempts"
REPLAYED = "x-ebus-replayed"
"""Header of a message ``ebus dlq replay`` put back: the dead letter it came from."""
VERIFIED_BY = "ebus-verified-by"
"""Transport meta key: the channel that already ran the adapter's ``verify`` on a raw message
(the webhook endpoint answers 401 itself), so the inbound worker does not verify it again."""


def encode_raw(system: str, message: str, raw: RawMessage) -> OutMessage:
    """A raw inbound message as it is published to its inbound queue."""
    received = raw.received_at or dt.datetime.now(dt.UTC)
    transport = {"headers": dict(raw.headers), "meta": dict(raw.meta)}
    return OutMessage(
        raw.body,
        {
            SYSTEM: system,
            MESSAGE: message,
            RECEIVED_AT: received.isoformat(),
            TRANSPORT: json.dumps(transport, ensure_ascii=False),
        },
    )


def decode_raw(message: Message) -> tuple[str, str, RawMessage]:
    """``(system, message type, raw)`` of a message from an inbound queue."""
    transport = json.loads(str(message.headers.get(TRANSPORT) or "{}"))
    received = message.headers.get(RECEIVED_AT)
    raw = RawMessage(
        body=message.body,
        headers=transport.get("headers", {}),
        meta=transport.get("meta", {}),
        received_at=dt.datetime.fromisoformat(str(received)) if received else None,
    )
    return str(message.headers.get(SYSTEM)), str(message.headers.get(MESSAGE)), raw


def encode_envelope(envelope: Envelope[Any], **headers: str | int | None) -> OutMessage:
    """A canonical envelope as published to a feed or a delivery queue."""
    body = json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    return envelope_message(envelope, body)(**headers)


def envelope_message(envelope: Envelope[Any], body: bytes) -> Callable[..., OutMessage]:
    """The message of ``envelope`` whose JSON is ``body``, with the given headers added; one
    body serves every target a message fans out to."""

    def with_headers(**headers: str | int | None) -> OutMessage:
        return OutMessage(
            body,
            {SCHEMA: envelope.schema_name, CASE_CODE: envelope.case_code, **headers},
            envelope.message_id,
        )

    return with_headers


def decode_envelope(message: Message) -> Envelope[Any]:
    """The canonical envelope a delivery queue message carries (validated again).

    The ``SCHEMA`` header ``encode_envelope`` sets picks the model, so the body is parsed and
    validated in one pass (pydantic's JSON mode); a message without it is read the long way.
    """
    model = ENVELOPES.get(str(message.headers.get(SCHEMA)))
    if model is not None:  # a body of another schema fails its check (``envelope_schema``)
        return model.model_validate_json(message.body)
    data = json.loads(message.body)
    return ENVELOPES[data["schema"]].model_validate(data)
