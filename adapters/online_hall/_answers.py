"""The answers the bus gives the hall (README §5), byte for byte.

| verdict | HTTP | body |
|---|---|---|
| accepted | 200 | ``{"code":"0","msg":"accepted","eventId":"…"}`` |
| duplicate | 200 | ``{"code":"0","msg":"duplicate","eventId":"…"}`` |
| unauthorized | 401 | ``{"code":"401","msg":"bad signature"}`` |
| rejected | 422 | ``{"code":"422","msg":"<reason>","field":"<wire name>"}`` |
| unavailable | 503 | ``{"code":"503","msg":"temporarily unavailable"}`` (the hall resends) |

A 422 ``msg`` is one of the short reasons of §5 (``missing required field``, ``bad USCC check
character`` …), chosen by the rejection's rule; ``field`` is the wire name of the field the
rejection is about (``tyshxydm``, ``X-Hall-Event-Id``), translated from the canonical path
where the canonical model refused a value. Neither ever holds a value of the event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from adapters.online_hall._wire import event_id_of
from runner.adapter_api import (
    AdapterConfig,
    MessageRejected,
    RawMessage,
    WebhookAnswer,
    WebhookVerdict,
)

__all__ = ["REASONS", "WIRE_NAMES", "answer", "reason_of", "wire_field"]

REASONS: Mapping[str, str] = {
    "malformed_json": "malformed JSON",
    "undecodable": "malformed JSON",
    "duplicate_key": "malformed JSON",
    "too_large": "malformed JSON",
    "required": "missing required field",
    "party_uscc_required": "missing required field",
    "unknown_code": "unknown code value",
    "division_code": "unknown code value",
    "event_id_mismatch": "eventId mismatch",
    "unsupported_event_type": "unsupported eventType",
    "datetime_format": "bad date format",
}
"""Rejection rule → the 422 reason (README §5); ``uscc_*`` and ``id_number_*`` rules are the
check-character reasons, any other rule is ``invalid value``."""

_COMMON = {
    "payload.party.kind": "sqrlx",
    "payload.party.name": "sqrmc",
    "payload.party.uscc": "tyshxydm",
    "payload.party.id_type": "zjlx",
    "payload.party.id_number": "zjhm",
    "payload.party.legal_representative": "fddbr",
    "payload.party.address": "sqrdz",
    "payload.party.division_code": "sqrqh",
    "payload.party": "sqrlx",
}
WIRE_NAMES: Mapping[str, Mapping[str, str]] = {
    "license_webhook": {
        **_COMMON,
        "payload.license_no": "xkzbh",
        "payload.license_name": "xkzsmc",
        "payload.kind": "xklb",
        "payload.content": "xknr",
        "payload.decided_at": "jdrq",
        "payload.valid_from": "yxqq",
        "payload.valid_to": "yxqz",
        "payload.decision_no": "xkjdswh",
        "payload.agency.name": "xkjg",
        "payload.agency.uscc": "xkjgdm",
        "payload.agency.division_code": "xkjgqh",
        "payload.agency.domain": "lydm",
        "source_message_id": "eventId",
        "occurred_at": "jdrq",
    },
    "delivery_webhook": {
        **{k.replace("party", "recipient"): v for k, v in _COMMON.items()},
        "payload.recipient.kind": "sdrlx",
        "payload.recipient.name": "sdrmc",
        "payload.recipient": "sdrlx",
        "payload.delivery_id": "sdbh",
        "payload.document_name": "wsmc",
        "payload.document_kind": "wslx",
        "payload.decision_no": "wsh",
        "payload.case_code": "sfm",
        "case_code": "sfm",
        "payload.status": "sdzt",
        "payload.status_at": "ztsj",
        "payload.channel": "sdqd",
        "payload.failure_reason": "sbyy",
        "source_message_id": "eventId",
        "occurred_at": "ztsj",
    },
}
"""Per message type: the canonical path a rejection names → the wire name of README §4."""

_OK = {"accepted", "duplicate"}


def reason_of(rule: str) -> str:
    """The §5 reason of a rejection rule."""
    if rule.startswith("uscc"):
        return "bad USCC check character"
    if rule.startswith("id_number"):
        return "bad ID number check digit"
    return REASONS.get(rule, "invalid value")


def wire_field(message_id: str, field: str | None) -> str | None:
    """The wire name of the field a rejection names (None when it names none)."""
    if not field:
        return None
    names = WIRE_NAMES.get(message_id, {})
    if field in names:
        return names[field]
    parent = field.rpartition(".")[0]
    while parent:  # payload.party.registration_no → the party's kind decides
        if parent in names:
            return names[parent]
        parent = parent.rpartition(".")[0]
    return field.removeprefix("payload.")


def _json(document: Mapping[str, str]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def answer(
    message_id: str,
    raw: RawMessage,
    verdict: WebhookVerdict,
    error: MessageRejected | None,
    config: AdapterConfig,
) -> WebhookAnswer:
    """The answer of README §5 to one pushed request (module docstring)."""
    del config  # the answer depends on nothing configured
    if verdict in _OK:
        body = {"code": "0", "msg": verdict}
        event_id = event_id_of(raw)
        if event_id is not None:
            body["eventId"] = event_id
        return WebhookAnswer(200, _json(body))
    if verdict == "unauthorized":
        return WebhookAnswer(401, _json({"code": "401", "msg": "bad signature"}))
    if verdict == "rejected":
        rule = error.rule if error is not None else "invalid"
        body = {"code": "422", "msg": reason_of(rule)}
        field = wire_field(message_id, error.field if error is not None else None)
        if field is not None:
            body["field"] = field
        return WebhookAnswer(422, _json(body))
    return WebhookAnswer(503, _json({"code": "503", "msg": "temporarily unavailable"}))
