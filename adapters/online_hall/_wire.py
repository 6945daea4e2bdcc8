"""The wire hooks of online_hall: the HMAC check (``verify``) and the event check (``prepare``).

``verify`` (README §2.3, quirk Q1): ``X-Hall-Signature`` must be the standard base64 of
HMAC-SHA256(subscription secret, raw body bytes), the bytes exactly as received, a UTF-8 BOM
included; compared in constant time against the current secret and, during a rotation, the
previous one. Missing or different: ``MessageRejected`` rule ``bad_signature`` (→ 401).

A message with no transport facts and no signature header (a sample file given to ``ebus map``,
the contract tests) has no request to authenticate and is not checked; every request the
webhook endpoint takes in carries ``meta['method']`` and is always checked.

``prepare`` (README §2.2, §4) checks the event and hands the mapping a normalised document::

    {"eventId": "EVT-…", "eventType": "XKJD", "pushTime": "20240305143000", "data": {…}}

- the BOM is dropped (after ``verify``), the body must be one UTF-8 JSON object with the four
  top-level keys; no NaN, no duplicate key, no absurd nesting (rule ``malformed_json``);
- ``eventType`` must be the message type's (``XKJD`` on the licence path, ``SDHZ`` on the
  delivery path), and so must ``X-Hall-Event-Type`` (rule ``unsupported_event_type``);
- ``X-Hall-Event-Id`` (≤ 64 characters) must equal ``eventId`` (rule ``event_id_mismatch``);
- the keys of ``data`` are lower-cased (Q6; one key sent twice in two cases with different
  values is refused), whole JSON numbers become their digits (Q8), text is trimmed (Q10) and
  ``""`` and ``"null"`` in any case become null (Q2).

Every rejection names the wire field (``eventId``, ``X-Hall-Event-Type``, ``data``) and never
repeats a value of ``data`` (it holds ID numbers).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from adapters.online_hall._config import as_config
from runner.adapter_api import AdapterConfig, MessageRejected, RawMessage

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENT_ID",
    "event_id_of",
    "normal_data",
    "prepare",
    "sign",
    "verify",
]

EVENT_TYPES: Mapping[str, str] = {"license_webhook": "XKJD", "delivery_webhook": "SDHZ"}
"""Message type → the eventType its path takes (README §2.1)."""
MAX_EVENT_ID = 64
"""The longest ``X-Hall-Event-Id`` (README §2.2)."""
MAX_DEPTH = 16
"""Deeper JSON is refused before Python's recursion limit could be reached."""

SIGNATURE = "x-hall-signature"
EVENT_ID = "x-hall-event-id"
EVENT_TYPE = "x-hall-event-type"
_NULL_WORD = "null"


def sign(secret: bytes, body: bytes) -> str:
    """``X-Hall-Signature`` of ``body``: standard base64 (padded) of HMAC-SHA256 (README §2.3)."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


def _pushed(raw: RawMessage) -> bool:
    """True for a request taken in over HTTP (the endpoint sets the method)."""
    return bool(raw.meta.get("method"))


def _mac(text: str) -> bytes | None:
    try:
        mac = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return mac if len(mac) == hashlib.sha256().digest_size else None


def verify(message_id: str, raw: RawMessage, config: AdapterConfig) -> None:
    """Refuse a request whose ``X-Hall-Signature`` is missing or wrong (module docstring)."""
    del message_id  # both paths are signed alike
    given = raw.headers.get(SIGNATURE)
    if given is None and not _pushed(raw):
        return
    mac = _mac(given) if given is not None else None
    good = mac is not None and any(
        hmac.compare_digest(mac, hmac.new(secret, raw.body, hashlib.sha256).digest())
        for secret in as_config(config).secrets()
    )
    if not good:
        reason = "signature missing" if given is None else "signature does not match the body"
        raise MessageRejected(reason, field="X-Hall-Signature", rule="bad_signature")


# --- prepare ----------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise MessageRejected(f"JSON constant {name} is not allowed", rule="malformed_json")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MessageRejected(f"key {key} is given twice", field=key, rule="malformed_json")
        out[key] = value
    return out


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _document(body: bytes) -> dict[str, Any]:
    """The event as a JSON object; anything else is ``malformed_json``."""
    data = body.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageRejected(
            f"bytes {exc.start}-{exc.end} are not UTF-8", rule="malformed_json"
        ) from None
    if text.count("[") + text.count("{") > 10_000:  # nesting or width no event needs
        raise MessageRejected("too many JSON objects and arrays", rule="malformed_json")
    try:
        document = json.loads(
            text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates
        )
    except RecursionError:
        raise MessageRejected("JSON nested too deeply", rule="malformed_json") from None
    except json.JSONDecodeError as exc:
        raise MessageRejected(
            f"not JSON at line {exc.lineno} column {exc.colno}", rule="malformed_json"
        ) from None
    except ValueError:  # an integer beyond Python's digit limit
        raise MessageRejected("a number is too long", rule="malformed_json") from None
    if not isinstance(document, dict):
        raise MessageRejected("the event is not a JSON object", rule="malformed_json")
    if _depth(document) > MAX_DEPTH:
        raise MessageRejected("JSON nested too deeply", rule="malformed_json")
    return document


def _normal_value(value: Any) -> Any:
    """Q2, Q8, Q10: trimmed text, ``""``/``"null"`` as null, whole numbers as digits."""
    if isinstance(value, str):
        text = value.strip()
        return None if not text or text.lower() == _NULL_WORD else text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def normal_data(data: Any) -> dict[str, Any]:
    """``data`` with lower-case keys and normal values (module docstring)."""
    if not isinstance(data, dict):
        raise MessageRejected("data must be a JSON object", field="data", rule="required")
    out: dict[str, Any] = {}
    for key, value in data.items():
        name, normal = key.lower(), _normal_value(value)
        if name in out and out[name] != normal:
            raise MessageRejected(
                f"key {name} is given twice with different values",
                field=name,
                rule="duplicate_key",
            )
        out[name] = normal
    return out


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MessageRejected(f"{key} is missing", field=key, rule="required")
    return value.strip()


def _check_event_id(event_id: str, raw: RawMessage) -> None:
    header = raw.headers.get(EVENT_ID)
    if header is None and _pushed(raw):
        raise MessageRejected(
            "the X-Hall-Event-Id header is missing", field="X-Hall-Event-Id", rule="required"
        )
    if len(event_id) > MAX_EVENT_ID:
        raise MessageRejected(
            f"eventId is longer than {MAX_EVENT_ID} characters", field="eventId", rule="too_long"
        )
    if header is not None and header.strip() != event_id:
        raise MessageRejected(
            "eventId differs from the X-Hall-Event-Id header",
            field="eventId",
            rule="event_id_mismatch",
        )


def _check_event_type(message_id: str, event_type: str, raw: RawMessage) -> None:
    expected = EVENT_TYPES[message_id]
    header = raw.headers.get(EVENT_TYPE)
    if header is None and _pushed(raw):
        raise MessageRejected(
            "the X-Hall-Event-Type header is missing", field="X-Hall-Event-Type", rule="required"
        )
    if header is not None and header.strip() != expected:
        raise MessageRejected(
            f"X-Hall-Event-Type is not {expected} on this path",
            field="X-Hall-Event-Type",
            rule="unsupported_event_type",
        )
    if event_type != expected:
        raise MessageRejected(
            f"eventType is not {expected} on this path",
            field="eventType",
            rule="unsupported_event_type",
        )


def prepare(message_id: str, raw: RawMessage, config: AdapterConfig) -> bytes:
    """The checked, normalised event the mapping reads (module docstring)."""
    del config  # nothing of the config shapes the document
    document = _document(raw.body)
    event_id = _text(document, "eventId")
    _check_event_id(event_id, raw)
    _check_event_type(message_id, _text(document, "eventType"), raw)
    push_time = _text(document, "pushTime")
    if "data" not in document:
        raise MessageRejected("data is missing", field="data", rule="required")
    event = {
        "eventId": event_id,
        "eventType": EVENT_TYPES[message_id],
        "pushTime": push_time,
        "data": normal_data(document["data"]),
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_id_of(raw: RawMessage) -> str | None:
    """The event id of a request, for its answer: the header, else the body's ``eventId``
    (None when neither can be read); at most 64 characters are echoed."""
    header = raw.headers.get(EVENT_ID)
    if header and header.strip():
        return header.strip()[:MAX_EVENT_ID]
    try:
        document = json.loads(raw.body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    value = document.get("eventId") if isinstance(document, dict) else None
    return value.strip()[:MAX_EVENT_ID] if isinstance(value, str) and value.strip() else None
