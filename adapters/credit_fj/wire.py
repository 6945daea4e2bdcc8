"""The wire hooks of credit_fj: framing and signing outbound calls, wrapping answers.

Outbound (``frame``): the outbound mappings render the JSON batch body (pushes) or the path
parameters ``{"uscc": …}`` (the lookup GET); ``frame`` builds the call of README §2: method,
path, ``Content-Type`` / ``Content-Length`` / ``Accept`` and the four signed headers of §2.3.
``Host`` is the transport's (the endpoint's host).

Inbound (``prepare``): an answer's HTTP status and ``Retry-After`` decide its delivery outcome
(§5.1: 429, HTML 502/503/504 pages), but a mapping reads only the document. So ``prepare``
hands the mappings of ``push_response`` and ``subject_lookup_response`` a small JSON wrapper::

    {"http_status": 503, "retry_after": "30", "requested_uscc": null, "body": null}

``body`` is the answer's JSON exactly as received (a UTF-8 BOM removed, quirk Q4), or null when
the answer is not JSON (an nginx HTML page); ``retry_after`` is the ``Retry-After`` header;
``requested_uscc`` is the code of the lookup path answered (``meta['path']``), so the mapping can
check that the platform answered for the subject asked about. Without ``meta['status']`` the
status is 200. A non-JSON answer with a status below 400 is refused: its outcome is unknown and
the whole call is sent again (canonical.md, "Delivery outcome").
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import secrets
from collections.abc import Mapping

from adapters._transports.http import HttpTransport
from adapters._transports.pacing import paced
from adapters.credit_fj.config import as_config
from adapters.credit_fj.signing import NONCE_PATTERN, sign_request
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    Connection,
    MessageRejected,
    Outgoing,
    RawMessage,
)
from schemas.timeutil import SHANGHAI

__all__ = [
    "ENDPOINTS",
    "batch_no",
    "epoch_ms",
    "frame",
    "open_transport",
    "prepare",
    "variables",
]

ENDPOINTS: Mapping[str, tuple[str, str]] = {
    "penalty_push": ("POST", "/api/sgs/v2/penalties"),
    "license_push": ("POST", "/api/sgs/v2/licenses"),
    "subject_lookup_request": ("GET", "/api/credit/v1/subjects/{uscc}"),
}
"""Method and path of each outbound message type (README §2.1)."""

WRAPPED = frozenset({"push_response", "subject_lookup_response"})
"""The answers ``prepare`` wraps with their HTTP status and ``Retry-After``."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LOOKUP_PATH = re.compile(r"/api/credit/v1/subjects/(?P<uscc>[^/]+)")


def epoch_ms(moment: dt.datetime) -> int:
    """Epoch milliseconds of ``moment`` (a naive time is Asia/Shanghai), exactly."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)
    return (aware - _EPOCH) // dt.timedelta(milliseconds=1)


def batch_no(now: dt.datetime, sequence: int) -> str:
    """``MZF`` + ``yyyyMMddHHmmss`` (Asia/Shanghai) + 4-digit sequence: README §2.5."""
    local = now.astimezone(SHANGHAI) if now.tzinfo else now
    return f"MZF{local:%Y%m%d%H%M%S}{sequence % 10000:04d}"


def variables(message_id: str, _config: AdapterConfig, call: CallContext) -> Mapping[str, object]:
    """``batch_no`` for the push mappings (``{var: batch_no}``), from the time the call was
    first sent and its sequence: a batch resent after a timeout keeps its ``batchNo`` (README
    §2.5), with a new timestamp, nonce and signature."""
    if message_id in ("penalty_push", "license_push"):
        return {"batch_no": batch_no(call.first_sent, call.sequence)}
    return {}


def _timestamp(call: CallContext) -> str:
    pinned = call.extra.get("timestamp")
    if pinned is not None:
        if not pinned.isdigit():
            raise ValueError("call fact 'timestamp' must be epoch milliseconds (digits)")
        return pinned
    return str(epoch_ms(call.now))


def _nonce(call: CallContext) -> str:
    if not call.nonce:
        return secrets.token_hex(16)
    if not NONCE_PATTERN.fullmatch(call.nonce):
        raise ValueError("X-Nonce must be 32 lowercase hex characters")
    return call.nonce


MAX_BODY_BYTES = 2 * 1024 * 1024
"""The largest request body the platform takes (README §2.4: 2 MiB)."""


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """The signed call of ``message_id`` carrying the rendered ``document``.

    ``X-Timestamp`` is the epoch ms of ``call.now`` (or the pinned call fact ``timestamp``: the
    dry-run clock has whole seconds, the spec samples have milliseconds); ``X-Nonce`` is
    ``call.nonce`` or, when empty, a fresh random one.
    """
    method, template = ENDPOINTS[message_id]
    if method == "GET":
        params = json.loads(document)
        path, body = template.format(uscc=params["uscc"]), b""
    else:
        path, body = template, document
    if len(body) > MAX_BODY_BYTES:
        # refused before sending: the delivery worker then sends the batch's records one by one
        raise MessageRejected(
            f"request body of {len(body)} bytes; the platform takes at most {MAX_BODY_BYTES}",
            system="credit_fj",
            message=message_id,
            field="body",
            rule="body_too_large",
        )
    timestamp, nonce = _timestamp(call), _nonce(call)
    settings = as_config(config)
    headers: dict[str, str] = {}
    if body:
        headers["Content-Type"] = "application/json;charset=UTF-8"
        headers["Content-Length"] = str(len(body))
    headers |= {
        "Accept": "application/json",
        "X-App-Key": settings.app_key,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Sign": sign_request(
            settings.app_secret.get_secret_value(), method, path, timestamp, nonce, body
        ),
    }
    return Outgoing(body=body, headers=headers, method=method, path=path, operation=message_id)


def _json_text(body: bytes) -> str | None:
    """The answer as JSON text (BOM removed), or None when it is not a JSON document."""
    raw = body.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
        parsed = json.loads(text)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None
    return text if parsed is not None else None


def prepare(message_id: str, raw: RawMessage, _config: AdapterConfig) -> bytes:
    """Wrap an answer with its HTTP status and ``Retry-After`` (see the module docstring)."""
    if message_id not in WRAPPED:
        return raw.body
    status_text = raw.meta.get("status") or "200"
    if not status_text.isdigit():
        raise MessageRejected(f"HTTP status '{status_text}' is not a number", rule="http_status")
    status = int(status_text)
    body = _json_text(raw.body)
    if body is None and status < 400:
        raise MessageRejected(
            f"the answer (HTTP {status}) is not a JSON document", rule="malformed_json"
        )
    match = _LOOKUP_PATH.fullmatch(raw.meta.get("path") or "")
    head = {
        "http_status": status,
        "retry_after": raw.headers.get("retry-after"),
        "requested_uscc": match["uscc"] if match else None,
    }
    prefix = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return f'{prefix},"body":{body if body is not None else "null"}}}'.encode()


def open_transport(config: AdapterConfig) -> Connection:
    """``AdapterSpec.connect``: the HTTP transport based at ``config.endpoint`` with the spec's
    timeouts (connect 5 s, read 30 s: a 100-record batch takes up to 8 s at peak, §2.4), paced
    under ``rate_limit`` for the app key (5 requests/s)."""
    settings = as_config(config)
    transport = HttpTransport(
        "credit_fj",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    return paced("credit_fj", settings.app_key, transport, settings.rate_limit)
