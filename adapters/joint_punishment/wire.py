"""The wire hooks of joint_punishment: framing API calls, framing the token call, wrapping answers.

Outbound (``frame``): the mappings render the JSON body of ``dishonest_query`` and ``feedback``;
``frame`` builds the call of README §2.1: ``POST`` to the message's path with ``Content-Type``,
``Accept``, ``X-Request-Id`` (the body's ``requestId`` / ``feedbackId``) and ``Content-Length``.
The bearer token is the connection's business (``adapters.joint_punishment.token``): it puts
``Authorization`` first when it sends. A dry run may pin a token with the call fact
``access_token`` (``ebus render … --meta access_token=…``) to reproduce a sample request whole.

Token call (``token_call`` / ``read_token``): ``POST /oauth/token`` with HTTP Basic client
credentials and the form body of README §2.2; the answer's ``expires_in`` may be a string and
``token_type`` is lower case (quirk Q2). Both are the shared OAuth2 client credentials of
``adapters._transports.oauth2`` with this system's path and names.

Inbound (``prepare``): an answer's HTTP status and ``Retry-After`` decide its delivery outcome
(README §5.2, §5.3: 401, 429), but a mapping reads only the document. So ``prepare`` hands the
answer mappings a small JSON wrapper::

    {"http_status": 200, "retry_after": null, "body": {…}, "results": [{"queryId": …,
     "queryTime": …, "result": {…}}, …]}

``body`` is the answer's JSON as received (null when it is not JSON, e.g. a gateway's HTML
page). ``results`` repeats each ``body.results[]`` entry beside the answer's ``queryId`` and
``queryTime``, because a record of the mapping cannot reach its parent document (JMESPath has
no parent operator). A query answer with code ``0`` must correlate by ``seq`` (README §2.3,
Q8): a ``seq`` that is not a whole number, or that is listed twice, rejects the answer. Subjects
the system could not check (``errCode``, README §5.2) produce no canonical message; they are
logged by ``seq`` and code only, never by name or id number.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Mapping
from typing import Any

from adapters._transports import oauth2
from adapters._transports.oauth2 import Token, bearer, client_credentials_call
from adapters.joint_punishment.config import as_config
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    MessageRejected,
    Outgoing,
    RawMessage,
)

__all__ = [
    "ENDPOINTS",
    "TOKEN_PATH",
    "Token",
    "bearer",
    "frame",
    "prepare",
    "read_token",
    "token_call",
]

log = logging.getLogger("ebus.adapters.joint_punishment")

ENDPOINTS: Mapping[str, tuple[str, str]] = {
    "dishonest_query": ("/api/v1/dishonest/query", "requestId"),
    "feedback": ("/api/v1/feedback", "feedbackId"),
}
"""Path of each outbound message type and the body key ``X-Request-Id`` repeats (README §2.1)."""

TOKEN_PATH = "/oauth/token"
JSON_TYPE = "application/json;charset=UTF-8"
WRAPPED = frozenset({"dishonest_query_response", "feedback_response"})
"""The answers ``prepare`` wraps with their HTTP status and ``Retry-After``."""


def frame(message_id: str, document: bytes, _config: AdapterConfig, call: CallContext) -> Outgoing:
    """The API call of ``message_id`` carrying the rendered JSON ``document``."""
    path, id_key = ENDPOINTS[message_id]
    request_id = json.loads(document).get(id_key)
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
        raise MessageRejected(
            f"{id_key} must be 1..64 characters", message=message_id, field=id_key, rule="max_64"
        )
    headers: dict[str, str] = {}
    pinned = call.extra.get("access_token")
    if pinned:
        headers["Authorization"] = bearer(pinned)
    headers |= {
        "Content-Type": JSON_TYPE,
        "Accept": "application/json",
        "X-Request-Id": request_id,
        "Content-Length": str(len(document)),
    }
    return Outgoing(body=document, headers=headers, method="POST", path=path, operation=message_id)


# --- the token call ---------------------------------------------------------------------------


def token_call(config: AdapterConfig) -> Outgoing:
    """``POST /oauth/token`` with the client's Basic credentials (README §2.2 step 1)."""
    settings = as_config(config)
    secret = settings.client_secret.get_secret_value()
    return client_credentials_call(TOKEN_PATH, settings.client_id, secret, settings.scope)


def read_token(raw: RawMessage) -> Token:
    """The token of a token answer (quirk Q2: ``expires_in`` may be a string, ``token_type``
    lower case); a refusal raises ``PermanentError`` (bad credentials) or ``TransientError``
    (429, 5xx, an answer that is not a token). The answer is never logged."""
    return oauth2.read_token("joint_punishment", raw)


# --- answers ----------------------------------------------------------------------------------


def _json(body: bytes) -> Any:
    """The answer's JSON (a UTF-8 BOM tolerated), or None when it is not JSON."""
    try:
        return json.loads(body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None


def _seq(entry: Any) -> int:
    seq = entry.get("seq") if isinstance(entry, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise MessageRejected("a result has no whole-number seq", field="results.seq", rule="seq")
    return seq


def _results(body: Any) -> list[dict[str, Any]]:
    """The query results beside the answer's queryId and queryTime, checked by ``seq``."""
    if not isinstance(body, dict) or body.get("code") != "0":
        return []
    entries = body.get("results")
    if not isinstance(entries, list):
        raise MessageRejected(
            "a successful query answer has no results list", field="results", rule="malformed"
        )
    seen: set[int] = set()
    for entry in entries:
        seq = _seq(entry)
        if seq in seen:
            raise MessageRejected(
                f"seq {seq} is answered twice", field="results.seq", rule="seq_twice"
            )
        seen.add(seq)
        if entry.get("errCode"):
            log.info("joint_punishment: subject seq %s not checked (%s)", seq, entry["errCode"])
    head = {"queryId": body.get("queryId"), "queryTime": body.get("queryTime")}
    return [{**head, "result": entry} for entry in entries]


def prepare(message_id: str, raw: RawMessage, _config: AdapterConfig) -> bytes:
    """Wrap an answer with its HTTP status and ``Retry-After`` (see the module docstring)."""
    if message_id not in WRAPPED:
        return raw.body
    status_text = raw.meta.get("status") or "200"
    if not status_text.isdigit():
        raise MessageRejected(f"HTTP status '{status_text}' is not a number", rule="http_status")
    status = int(status_text)
    body = _json(raw.body)
    if not isinstance(body, dict):
        body = None
    if body is None and status < 400:
        raise MessageRejected(
            f"the answer (HTTP {status}) is not a JSON object", rule="malformed_json"
        )
    wrapper = {
        "http_status": status,
        "retry_after": raw.headers.get("retry-after"),
        "body": body,
        "results": _results(body) if message_id == "dishonest_query_response" else [],
    }
    return json.dumps(wrapper, ensure_ascii=False, separators=(",", ":")).encode()
