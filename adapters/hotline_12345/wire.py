"""The wire hooks of hotline_12345: framing the POST calls and the page GET, wrapping answers.

Outbound (``frame``): the ``accept`` and ``feedback`` mappings render a small call document::

    {"gdbh": "GD202503110004521", "request_id": "GD202503110004521#1/accept", "body": {…}}

``frame`` builds the call of README §4.2 / §4.3 from it: ``POST
/api/v3/workorders/{gdbh}/accept`` (or ``/feedback``), the body serialised exactly as the
platform's gateway compares it (UTF-8, compact, keys in table order, non-ASCII not escaped;
``AJBSM`` omitted when null, §4.3) and the headers ``Authorization: Bearer <key>``,
``Content-Type``, ``Accept``, ``X-Request-Id``, ``Content-Length`` in the samples' order.
``Host`` is the transport's (the endpoint's host).

Inbound (``prepare``): an answer's HTTP status and ``Retry-After`` decide its delivery outcome
(§7: 429, HTML 502/503/504 pages, errors with HTTP 200), and the outcome's ``record_id`` is the
work order the call was about, which the platform does not always echo. So ``prepare`` hands
the mappings a small JSON wrapper::

    {"http_status": 409, "retry_after": null, "gdbh": "GD202503110004521", "body": {…}}

``body`` is the answer's JSON (null when the answer is not JSON, e.g. the gateway's HTML page);
``gdbh`` comes from the path of the call answered (``meta['path']``), else from the
``X-Request-Id`` the platform echoes for an ``accept``. The work orders of a page are
normalised on the way (quirks Q1, Q2): keys upper case, the string ``"null"`` as JSON null.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from adapters.hotline_12345.config import Hotline12345Config, as_config
from runner.adapter_api import AdapterConfig, CallContext, MessageRejected, Outgoing, RawMessage

__all__ = [
    "ANSWERS",
    "POSTS",
    "WORKORDERS_PATH",
    "bearer",
    "frame",
    "prepare",
    "workorders_request",
]

WORKORDERS_PATH = "/api/v3/workorders"
POSTS: Mapping[str, str] = {"accept": "accept", "feedback": "feedback"}
"""Outbound message type → the last path segment of its POST (README §4.2, §4.3)."""
ANSWERS = frozenset({"workorders_page", "accept_response", "feedback_response"})
"""The inbound message types ``prepare`` wraps with their HTTP status and ``Retry-After``."""
OMITTED_WHEN_NULL = frozenset({"AJBSM"})
"""Body keys left out (not sent as null) when they have no value (README §4.3)."""

_GDBH = re.compile(r"GD[0-9]{15}")
_CALL_PATH = re.compile(r"/api/v3/workorders/(?P<gdbh>GD[0-9]{15})/(?:accept|feedback)")
_ECHOED_ID = re.compile(r"(?P<gdbh>GD[0-9]{15})#[0-9]+/accept")
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,64}")
_NULL_WORD = "null"


def bearer(config: Hotline12345Config) -> str:
    """The ``Authorization`` value of every request (README §2). Never log it."""
    return f"Bearer {config.api_key.get_secret_value()}"


def _document(message_id: str, document: bytes) -> tuple[str, str, dict[str, Any]]:
    try:
        call = json.loads(document)
        gdbh, request_id, body = call["gdbh"], call["request_id"], call["body"]
    except (ValueError, KeyError, TypeError):
        raise MessageRejected(
            "the rendered call needs gdbh, request_id and body", message=message_id, rule="frame"
        ) from None
    if not isinstance(gdbh, str) or not _GDBH.fullmatch(gdbh):
        raise MessageRejected(
            "the work-order number is not GD + 15 digits", field="GDBH", rule="gdbh_format"
        )
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise MessageRejected(
            "X-Request-Id must be 1..64 printable ASCII characters (README §2)",
            field="X-Request-Id",
            rule="request_id_format",
        )
    if not isinstance(body, dict):
        raise MessageRejected("the rendered body is not an object", rule="frame")
    return gdbh, request_id, body


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """The POST of ``message_id`` (``accept`` or ``feedback``) carrying the rendered document.

    No clock or nonce enters the call (README §9): a resent call has the same bytes and the
    same ``X-Request-Id``, so the gateway recognises it.
    """
    del call  # the call facts play no part: the bytes are fixed by the input alone
    gdbh, request_id, body = _document(message_id, document)
    sent = {k: v for k, v in body.items() if not (v is None and k in OMITTED_WHEN_NULL)}
    payload = json.dumps(sent, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {
        "Authorization": bearer(as_config(config)),
        "Content-Type": "application/json;charset=UTF-8",
        "Accept": "application/json",
        "X-Request-Id": request_id,
        "Content-Length": str(len(payload)),
    }
    path = f"{WORKORDERS_PATH}/{gdbh}/{POSTS[message_id]}"
    return Outgoing(body=payload, headers=headers, method="POST", path=path, operation=message_id)


def workorders_request(config: Hotline12345Config, cursor: str | None) -> Outgoing:
    """``GET /api/v3/workorders?cursor=…&limit=…`` (README §2.1).

    The cursor is percent-encoded whole (``=`` → ``%3D``, quirk Q9); it is left out only when
    ``cursor`` is None (the first call of a new subscription).
    """
    query = f"limit={config.page_size}"
    if cursor is not None:
        query = f"cursor={quote(cursor, safe='')}&{query}"
    headers = {"Authorization": bearer(config), "Accept": "application/json"}
    return Outgoing(
        body=b"",
        headers=headers,
        method="GET",
        path=f"{WORKORDERS_PATH}?{query}",
        operation="workorders_page",
    )


# --- answers ---------------------------------------------------------------------------------


def answer_json(body: bytes) -> Any:
    """The answer's JSON document (a UTF-8 BOM tolerated), or None when it is not JSON."""
    try:
        return json.loads(body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None


def _normal_value(value: Any) -> Any:
    """Quirk Q2: the string ``"null"`` (any case) means absent, like ``""`` and JSON null."""
    if isinstance(value, str) and value.strip().lower() == _NULL_WORD:
        return None
    return value


def normal_item(item: Any) -> Any:
    """A work order with upper-case keys (quirk Q1) and ``"null"`` as null (Q2).

    A key given twice in different cases with different values is refused: which one the
    platform meant cannot be known.
    """
    if not isinstance(item, dict):
        return item
    out: dict[str, Any] = {}
    for key, value in item.items():
        name, normal = str(key).upper(), _normal_value(value)
        if name in out and out[name] != normal:
            raise MessageRejected(
                f"key {name} is given twice with different values",
                field=name,
                rule="duplicate_key",
            )
        out[name] = normal
    return out


def _normal_page(document: Any) -> Any:
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return document
    return {**document, "data": {**data, "items": [normal_item(i) for i in data["items"]]}}


def _status(raw: RawMessage) -> int:
    text = raw.meta.get("status") or "200"
    if not text.isdigit():
        raise MessageRejected(f"HTTP status '{text}' is not a number", rule="http_status")
    return int(text)


def answered_gdbh(raw: RawMessage) -> str | None:
    """The work order a POST answer is about: from the call's path, else the echoed
    ``X-Request-Id`` of an ``accept`` (README §2), else None."""
    match = _CALL_PATH.fullmatch(raw.meta.get("path") or "")
    if match is None:
        match = _ECHOED_ID.fullmatch(raw.headers.get("x-request-id") or "")
    return match["gdbh"] if match else None


def prepare(message_id: str, raw: RawMessage, _config: AdapterConfig) -> bytes:
    """Wrap an answer with its HTTP status, ``Retry-After`` and work order (module docstring)."""
    if message_id not in ANSWERS:
        return raw.body
    status = _status(raw)
    body = answer_json(raw.body)
    if body is None and status < 400:
        raise MessageRejected(
            f"the answer (HTTP {status}) is not a JSON document", rule="malformed_json"
        )
    if message_id == "workorders_page":
        body = _normal_page(body)
    wrapper = {
        "http_status": status,
        "retry_after": raw.headers.get("retry-after"),
        "gdbh": answered_gdbh(raw),
        "body": body,
    }
    return json.dumps(wrapper, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
