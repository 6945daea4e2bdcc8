"""The request signature of YJZF pushes (README §2.4) and ``SPEC.verify``.

``signature = HEX_UPPER(HMAC-SHA256(appSecret, appId + "\\n" + timestamp + "\\n" + nonce + "\\n"
+ hex_lower(SHA-256(raw body))))``, over the raw bytes as received (BOM and declaration included).

``Verifier`` checks, in order: the body size (2 MiB), the four headers, the AppId, the
signature (constant-time, case-insensitive); then, for a request that came through the live
endpoint only, the two freshness checks: the timestamp within ±300 s of the bus clock and a
nonce not seen in the last 15 minutes. A replay of a captured message (``ebus map``, a contract
test) carries no HTTP ``method`` in its transport facts and is checked against its headers
only, as §2.4 says. The window is measured at the time the bus received the request
(``RawMessage.received_at``), and a nonce is remembered with that time, so re-verifying a
stored request later (a dead-letter replay) passes both; a second HTTP request never does.

Every refusal is a ``MessageRejected`` whose rule the answer turns into the Ack: HTTP 401 code 2,
except ``timestamp_skew`` (401 code 9: re-sign and resend) and ``too_large`` (413 code 2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from adapters.emergency._config import as_config
from adapters.emergency._wire import check_size
from runner.adapter_api import AdapterConfig, DigestStore, MessageRejected, RawMessage
from schemas.timeutil import SHANGHAI

__all__ = [
    "HEADERS",
    "NonceCache",
    "Verifier",
    "body_hash",
    "sign",
    "signed_headers",
    "string_to_sign",
    "verify",
]

HEADERS = ("x-yjzf-appid", "x-yjzf-timestamp", "x-yjzf-nonce", "x-yjzf-signature")
"""The signature headers, lower-cased as the runtime hands them over."""
_FORMATS = {
    "x-yjzf-timestamp": re.compile(r"\d{14}"),
    "x-yjzf-nonce": re.compile(r"[0-9a-f]{16}"),
    "x-yjzf-signature": re.compile(r"[0-9A-Fa-f]{64}"),
}
_WIRE_NAMES = {
    "x-yjzf-appid": "X-YJZF-AppId",
    "x-yjzf-timestamp": "X-YJZF-Timestamp",
    "x-yjzf-nonce": "X-YJZF-Nonce",
    "x-yjzf-signature": "X-YJZF-Signature",
}


def body_hash(body: bytes) -> str:
    """SHA-256 of the raw body, 64 lower-case hex characters."""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(app_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    """``appId LF timestamp LF nonce LF bodyHash`` (no trailing LF)."""
    return f"{app_id}\n{timestamp}\n{nonce}\n{body_hash(body)}"


def sign(secret: str, app_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The ``X-YJZF-Signature`` value: HMAC-SHA256, 64 upper-case hex characters."""
    text = string_to_sign(app_id, timestamp, nonce, body)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


def signed_headers(
    secret: str, app_id: str, body: bytes, at: dt.datetime, nonce: str
) -> dict[str, str]:
    """The headers a sender puts on ``body`` signed at ``at`` (what the YJZF client sends)."""
    timestamp = at.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")
    return {
        "Content-Type": "text/xml; charset=UTF-8",
        "X-YJZF-AppId": app_id,
        "X-YJZF-Timestamp": timestamp,
        "X-YJZF-Nonce": nonce,
        "X-YJZF-Signature": sign(secret, app_id, timestamp, nonce, body),
    }


class NonceCache:
    """Nonces seen in the last ``ttl`` seconds, bounded, thread-safe (one per process).

    ``claim`` is true the first time a nonce is offered within its window, and again for the
    same stored request (same ``request`` token: the time the bus received it); a second HTTP
    request always has a new token. A process keeps its own: with several bus processes behind
    one address a replay to another process is caught by the timestamp window only.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self._seen: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def claim(self, app_id: str, nonce: str, now: float, ttl: float, request: str = "") -> bool:
        """Remember ``nonce`` until ``now + ttl``; False when another request used it."""
        key = (app_id, nonce)
        with self._lock:
            while self._seen:
                oldest, (expires, _) = next(iter(self._seen.items()))
                if expires > now and len(self._seen) < self._capacity:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return bool(request) and self._seen[key][1] == request
            self._seen[key] = (now + ttl, request)
            return True


def _reject(reason: str, field: str, rule: str) -> MessageRejected:
    return MessageRejected(reason, field=field, rule=rule)


def _headers(raw: RawMessage) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in HEADERS:
        value = (raw.headers.get(name) or "").strip()
        if not value:
            raise _reject("signature header missing", _WIRE_NAMES[name], "missing_header")
        pattern = _FORMATS.get(name)
        if pattern is not None and not pattern.fullmatch(value):
            raise _reject("signature header malformed", _WIRE_NAMES[name], "bad_header")
        values[name] = value
    return values


class Nonces(Protocol):
    """A replay memory: ``NonceCache`` (one process) or ``StoredNonces`` (every process)."""

    def claim(self, app_id: str, nonce: str, now: float, ttl: float, request: str = "") -> bool:
        """True the first time ``nonce`` is offered, and again for the same ``request``."""
        ...


class StoredNonces:
    """The replay memory on the bus's durable store (``DigestStore``, the body digest store
    under its own system name): a replay to another bus process, or after a restart, is
    refused too. A nonce is kept as long as the store keeps it, not only 15 minutes: a random
    64-bit nonce is never legitimately offered again, and the timestamp window refuses old
    requests anyway."""

    SYSTEM = "emergency-nonce"

    def __init__(self, store: DigestStore) -> None:
        self.store = store

    def claim(self, app_id: str, nonce: str, now: float, ttl: float, request: str = "") -> bool:
        """Record ``nonce`` for ``request``; False when another request recorded it first."""
        token = hashlib.sha256((request or secrets.token_hex(16)).encode()).hexdigest()
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        return self.store.record(self.SYSTEM, f"{app_id}:{nonce}", token, at).digest == token


class Verifier:
    """``SPEC.verify``: authenticity always, freshness on the live endpoint (module doc).

    ``clock`` gives the bus clock (tests fix it); ``nonces`` is the replay memory: this
    process's until the webhook endpoint binds the durable one (``use_store``).
    """

    def __init__(
        self,
        clock: Callable[[], dt.datetime] | None = None,
        nonces: Nonces | None = None,
    ) -> None:
        self.clock = clock or (lambda: dt.datetime.now(SHANGHAI))
        self.nonces: Nonces = nonces or NonceCache()

    def use_store(self, store: DigestStore | None) -> None:
        """Keep the nonces in ``store`` (durable, shared by every process) from now on; None:
        in this process again (the endpoint that bound the store stopped)."""
        self.nonces = StoredNonces(store) if store is not None else NonceCache()

    def __call__(self, message_id: str, raw: RawMessage, config: AdapterConfig) -> None:
        """Refuse ``raw`` with a ``MessageRejected`` unless it is authentic (and fresh)."""
        cfg = as_config(config)
        check_size(raw.body, cfg.max_body_bytes)
        headers = _headers(raw)
        if not hmac.compare_digest(headers["x-yjzf-appid"], cfg.app_id):
            raise _reject("unknown AppId", "X-YJZF-AppId", "unknown_app_id")
        expected = sign(
            cfg.app_secret.get_secret_value(),
            headers["x-yjzf-appid"],
            headers["x-yjzf-timestamp"],
            headers["x-yjzf-nonce"],
            raw.body,
        )
        if not hmac.compare_digest(expected, headers["x-yjzf-signature"].upper()):
            raise _reject("signature does not match", "X-YJZF-Signature", "signature_mismatch")
        if raw.meta.get("method"):
            self._fresh(headers, raw.received_at, cfg.app_id, cfg.clock_skew_s, cfg.nonce_ttl_s)

    def _fresh(
        self,
        headers: dict[str, str],
        received_at: dt.datetime | None,
        app_id: str,
        skew: int,
        ttl: int,
    ) -> None:
        now = received_at or self.clock()
        request = received_at.isoformat() if received_at else ""
        try:
            signed = dt.datetime.strptime(headers["x-yjzf-timestamp"], "%Y%m%d%H%M%S")
        except ValueError:
            raise _reject("timestamp is no time", "X-YJZF-Timestamp", "bad_header") from None
        drift = abs((now - signed.replace(tzinfo=SHANGHAI)).total_seconds())
        if drift > skew:
            raise _reject(
                f"timestamp is {drift:.0f} s from the bus clock (at most {skew} s)",
                "X-YJZF-Timestamp",
                "timestamp_skew",
            )
        clock = self.clock().timestamp()
        if not self.nonces.claim(app_id, headers["x-yjzf-nonce"], clock, ttl, request):
            raise _reject("nonce already used", "X-YJZF-Nonce", "nonce_replayed")


verify = Verifier()
"""The verifier ``SPEC.verify`` uses: the real clock and this process's nonce memory."""
