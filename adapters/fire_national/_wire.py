"""The wire hooks of fire_national: sealing outbound calls, opening and wrapping answers.

Outbound (``frame``): the outbound mappings render the business payload as compact UTF-8 JSON
(README §2.3 step 1: keys in table order, ``null`` written, no ``\\u`` escapes); ``frame``
seals it into the secure envelope (SM4-CBC with the fixed IV, Base64, HMAC-SM3 ``sign``) with
``timestamp`` = epoch ms of ``CallContext.now`` (or the pinned call fact ``timestamp``) and
``nonce`` = ``CallContext.nonce`` (or a fresh random one), and addresses it to its path.

Inbound (``prepare``): an answer's mapping must see the HTTP status (gateway 502/503/504 have
no JSON body) and, for uploads, which ``dataId`` s the call carried (§5: records are matched to
the call by ``dataId``). So ``prepare`` hands the mappings a small JSON wrapper:

- ``upload_response``: ``{"http_status": 200, "data_ids": [...] | null, "body": {...} | null}``
  (``data_ids`` from ``meta['data_ids']``, which ``FireNationalConnection`` sets on every
  upload it sends; null in a dry run of an answer on its own);
- ``tasks``: ``{"http_status": 200, "body": {...} | null, "page": {...} | null}``: ``page`` is
  the decrypted task page after the signature check (§2.5), ``body`` a plain JSON error answer.

A UTF-8 BOM before the JSON is removed (§2.5). A signature that does not verify, ``encryptData``
that does not decrypt or unpad, or a payload that is not UTF-8 JSON rejects the whole page with
the field and rule named; the dead letter keeps the wire bytes as received (encrypted).
"""

from __future__ import annotations

import codecs
import json
import secrets
from collections.abc import Mapping
from typing import Any

from adapters._transports.http import HttpTransport
from adapters._transports.pacing import paced
from adapters.fire_national._config import FireNationalConfig, as_config
from adapters.fire_national._envelope import NONCE, Keys, epoch_ms, open_envelope, seal
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    Connection,
    MessageRejected,
    Outgoing,
    RawMessage,
)

__all__ = [
    "MAX_BYTES",
    "PATHS",
    "FireNationalConnection",
    "answer_json",
    "frame",
    "keys_of",
    "open_page",
    "open_transport",
    "prepare",
    "sent_data_ids",
]

PATHS: Mapping[str, str] = {
    "penalties": "/api/v2/province/{province}/penalties",
    "inspections": "/api/v2/province/{province}/inspections",
    "tasks_ack": "/api/v2/province/{province}/tasks/ack",
    "tasks": "/api/v2/province/{province}/tasks",
}
"""Path of each message type's call (README §2.1)."""

UPLOADS = frozenset({"penalties", "inspections"})
MAX_BYTES = 8 * 1024 * 1024
"""Largest answer taken (a page of 100 tasks is far below; §2.6 caps requests at 4 MiB)."""

_JSON = "application/json;charset=UTF-8"


def keys_of(config: AdapterConfig) -> Keys:
    """The credentials of ``config`` as ``Keys`` for the envelope functions."""
    settings = as_config(config)
    return Keys(settings.app_id, settings.secret_bytes(), settings.key_bytes(), settings.iv_bytes())


def _timestamp(call: CallContext) -> str:
    pinned = call.extra.get("timestamp")
    if pinned is not None:
        if not (pinned.isdigit() and len(pinned) == 13):
            raise ValueError("call fact 'timestamp' must be 13 digits of epoch milliseconds")
        return pinned
    return epoch_ms(call.now)


def _nonce(call: CallContext) -> str:
    if not call.nonce:
        return secrets.token_hex(16)
    if not NONCE.fullmatch(call.nonce):
        raise ValueError("nonce must be 32 lower-case hex characters")
    return call.nonce


def compact(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as every body and payload of this interface is written."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """``AdapterSpec.frame``: the sealed POST of ``message_id`` carrying ``document``."""
    settings = as_config(config)
    envelope = seal(keys_of(settings), document, _timestamp(call), _nonce(call))
    return Outgoing(
        body=compact(envelope),
        headers={"Content-Type": _JSON, "Accept": "application/json"},
        method="POST",
        path=PATHS[message_id].format(province=settings.province_code),
        operation=message_id,
    )


def answer_json(body: bytes) -> Any:
    """An answer's JSON (a UTF-8 BOM removed), or None when it is not a JSON document."""
    raw = body.removeprefix(codecs.BOM_UTF8)
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None


def open_page(config: AdapterConfig, envelope: Mapping[str, Any]) -> str:
    """The decrypted payload text of a signed tasks answer (§2.5), checked to be JSON."""
    plain = open_envelope(keys_of(config), envelope)
    try:
        text = plain.decode("utf-8")
        json.loads(text)
    except ValueError:
        raise MessageRejected(
            "the decrypted payload is not UTF-8 JSON", field="encryptData", rule="payload_json"
        ) from None
    return text


def _status(raw: RawMessage) -> int:
    text = raw.meta.get("status") or "200"
    if not text.isdigit():
        raise MessageRejected(f"HTTP status '{text}' is not a number", rule="http_status")
    return int(text)


def _data_ids(raw: RawMessage) -> list[str] | None:
    text = raw.meta.get("data_ids")
    if not text:
        return None
    ids = json.loads(text)
    return [str(i) for i in ids] if isinstance(ids, list) else None


def prepare(message_id: str, raw: RawMessage, config: AdapterConfig) -> bytes:
    """``AdapterSpec.prepare``: wrap an answer as the module docstring says."""
    if message_id not in ("upload_response", "tasks"):
        return raw.body
    if len(raw.body) > MAX_BYTES:
        raise MessageRejected(f"the answer exceeds {MAX_BYTES} bytes", rule="too_large")
    status = _status(raw)
    document = answer_json(raw.body)
    if document is not None and not isinstance(document, dict):
        raise MessageRejected("the answer is not a JSON object", rule="malformed_json")
    if document is None and status < 400:
        raise MessageRejected(
            f"the answer (HTTP {status}) is not a JSON document", rule="malformed_json"
        )
    head: dict[str, Any] = {"http_status": status}
    if message_id == "upload_response":
        head["data_ids"] = _data_ids(raw)
        head["body"] = document
        return compact(head)
    if document is not None and document.get("code") == "0":
        page = open_page(config, document)
        prefix = compact({**head, "body": None})[:-1]
        return prefix + b',"page":' + page.encode("utf-8") + b"}"
    return compact({**head, "body": document, "page": None})


def sent_data_ids(call: Outgoing, keys: Keys) -> list[str] | None:
    """The ``dataId`` s of an upload call, in the order sent (None for any other call)."""
    if call.method != "POST" or not call.path.endswith(("/penalties", "/inspections")):
        return None
    try:
        payload = json.loads(open_envelope(keys, json.loads(call.body)))
        return [str(record["dataId"]) for record in payload["records"]]
    except (MessageRejected, ValueError, LookupError, TypeError):
        return None


class FireNationalConnection:
    """The shared HTTP transport, telling each upload's answer which ``dataId`` s it answers
    (``meta['data_ids']``, a JSON list) so that ``upload_response`` matches results by
    ``dataId`` (README §5)."""

    def __init__(self, transport: Connection, keys: Keys) -> None:
        self.transport = transport
        self._keys = keys

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call``; an upload's answer carries the call's ``dataId`` s in its meta."""
        answer = self.transport.send(call)
        ids = sent_data_ids(call, self._keys)
        if ids is None:
            return answer
        meta = {**answer.meta, "data_ids": json.dumps(ids)}
        return RawMessage(answer.body, answer.headers, meta, answer.received_at)

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()


def open_transport(config: AdapterConfig) -> FireNationalConnection:
    """``AdapterSpec.connect``: the HTTP transport at ``endpoint`` (connect 5 s, read 20 s),
    paced under the appId's ``rate_limit`` (60 requests a minute)."""
    settings: FireNationalConfig = as_config(config)
    transport = HttpTransport(
        "fire_national",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    pacing = paced("fire_national", settings.app_id, transport, settings.rate_limit)
    return FireNationalConnection(pacing, keys_of(settings))
