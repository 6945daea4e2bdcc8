"""The wire hooks of health: the page request, and answers wrapped for the mapping.

Request (README §2.1)::

    GET /api/supervision/cases?updatedSince=<epoch ms>&page=<0-based>&size=<1..100>
    X-Api-Key: <key>
    Accept: application/json

Answers (``prepare``): whether an answer is a page or an error, and which delivery outcome an
error gives, depends on its HTTP status and ``Retry-After`` as much as on its body (README §5:
429 with ``Retry-After``, the gateway's HTML 502/503/504 pages). So ``prepare`` hands the
``cases_page`` mapping a small JSON wrapper::

    {"http_status": 200, "retry_after": null, "body": {…the answer's JSON…}}

``body`` is the answer's JSON with a UTF-8 BOM dropped (quirk Q7) and, inside each case record,
the string ``"null"`` turned into JSON null (Q8); it is null when the answer is not JSON (an
HTML error page). An answer with a 2xx/3xx status that is not a JSON object, or a ``code`` 200
answer without a ``data.content`` list, is refused (``malformed_json``, ``malformed_page``):
its outcome is unknown.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from adapters.health.config import HealthConfig
from runner.adapter_api import AdapterConfig, MessageRejected, Outgoing, RawMessage

__all__ = [
    "CASES_PATH",
    "MESSAGE",
    "answer_json",
    "cases_request",
    "normal_record",
    "page_of_one",
    "prepare",
]

CASES_PATH = "/api/supervision/cases"
MESSAGE = "cases_page"
SUCCESS = 200
"""The body ``code`` of a page (README §3.1)."""
MAX_BYTES = 8 * 1024 * 1024
"""The largest answer read (the bus's document limit): larger ones are refused unread."""
_NULL_WORD = "null"


def cases_request(config: HealthConfig, updated_since_ms: int, page: int) -> Outgoing:
    """``GET /api/supervision/cases`` for one page of the records updated since the HWM.

    The key goes in ``X-Api-Key`` (never logged); no signature, no clock (README §2).
    """
    query = f"updatedSince={updated_since_ms}&page={page}&size={config.page_size}"
    headers = {"X-Api-Key": config.api_key.get_secret_value(), "Accept": "application/json"}
    return Outgoing(
        body=b"", headers=headers, method="GET", path=f"{CASES_PATH}?{query}", operation=MESSAGE
    )


def answer_json(body: bytes) -> Any:
    """The answer's JSON document (a UTF-8 BOM tolerated, Q7), or None when it is not JSON."""
    try:
        return json.loads(body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None
    except RecursionError:  # a hostile, deeply nested document
        return None


def _normal(value: Any) -> Any:
    """Quirk Q8 throughout a record: the string ``"null"`` (any case) is JSON null."""
    if isinstance(value, str) and value.strip().lower() == _NULL_WORD:
        return None
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return value


def normal_record(record: Any) -> Any:
    """A case record with every ``"null"`` string as JSON null (Q8)."""
    return _normal(record)


def _status(raw: RawMessage) -> int:
    text = raw.meta.get("status") or "200"
    if not text.isdigit():
        raise MessageRejected(f"HTTP status '{text}' is not a number", rule="http_status")
    return int(text)


def _checked_page(body: dict[str, Any]) -> dict[str, Any]:
    """A ``code`` 200 answer with its records normalised; refused when it is not a page."""
    data = body.get("data")
    content = data.get("content") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(content, list):
        raise MessageRejected(
            "a code 200 answer without a data.content list is not a page",
            field="data.content",
            rule="malformed_page",
        )
    return {**body, "data": {**data, "content": [normal_record(r) for r in content]}}


def prepare(message_id: str, raw: RawMessage, _config: AdapterConfig) -> bytes:
    """Wrap an answer with its HTTP status and ``Retry-After`` (see the module docstring)."""
    if message_id != MESSAGE:
        return raw.body
    if len(raw.body) > MAX_BYTES:
        raise MessageRejected(
            f"answer of {len(raw.body)} bytes exceeds the limit of {MAX_BYTES} bytes",
            rule="too_large",
        )
    status = _status(raw)
    body = answer_json(raw.body)
    if status < 400 and not isinstance(body, dict):
        raise MessageRejected(
            f"the answer (HTTP {status}) is not a JSON object", rule="malformed_json"
        )
    if isinstance(body, dict) and body.get("code") == SUCCESS:
        body = _checked_page(body)
    wrapper = {"http_status": status, "retry_after": raw.headers.get("retry-after"), "body": body}
    return json.dumps(wrapper, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def page_of_one(document: dict[str, Any], record: Any, answer: RawMessage) -> RawMessage:
    """One record as a page of one (the answer's envelope around it, paging facts unchanged),
    with the answer's transport facts: each record is mapped, and dead-lettered, on its own."""
    data = {**document["data"], "content": [record]}
    body = json.dumps({**document, "data": data}, ensure_ascii=False, separators=(",", ":"))
    return RawMessage(body.encode("utf-8"), answer.headers, answer.meta, answer.received_at)
