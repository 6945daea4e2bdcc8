"""The link to the 卫健委 API gateway: mutual TLS, a paced request rate, and the 429 gate.

README §2: the gateway allows 5 requests per second per key and answers HTTP 429 with
``Retry-After`` (seconds) beyond it; the bus must wait that long before its next request. The
connection therefore

- paces its calls to ``max_requests_per_s`` with a 10 % margin (it sleeps the remainder);
- after a 429, sends nothing with that key for ``Retry-After`` seconds: ``send`` raises
  ``TransientError`` with the remaining wait as ``retry_after`` instead of calling.

Mutual TLS (README §2): with ``client_cert``, ``client_key`` and ``ca_file`` set, the client
presents the certificate, trusts only the pinned ``FJWJW Root CA G2`` and speaks TLS 1.2 or
1.3. A handshake refused by the server surfaces as ``TransientError`` ``CONNECTION`` from the
shared transport (no HTTP status exists for it).

Keys are held only as SHA-256 digests in the gate (never the key itself).
"""

from __future__ import annotations

import hashlib
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from adapters._transports.http import HttpTransport
from adapters.health.config import HealthConfig, as_config
from runner.adapter_api import AdapterConfig, Outgoing, RawMessage, TransientError

__all__ = [
    "DEFAULT_RETRY_AFTER_S",
    "GATE",
    "HealthConnection",
    "RateGate",
    "open_transport",
    "retry_after_s",
    "tls_context",
]

DEFAULT_RETRY_AFTER_S = 5
"""The wait after a 429 whose ``Retry-After`` is missing or not a whole number of seconds."""
MAX_RETRY_AFTER_S = 3600
PACE_MARGIN = 1.1
"""Calls are spaced 10 % wider than the limit allows: the gateway counts arrivals, which
network jitter bunches together."""


def retry_after_s(header: str | None) -> int:
    """``Retry-After`` in whole seconds (1..3600), else the default wait."""
    text = (header or "").strip()
    if text.isdigit() and 1 <= int(text) <= MAX_RETRY_AFTER_S:
        return int(text)
    return DEFAULT_RETRY_AFTER_S


class RateGate:
    """When each API key (by digest) may send again; thread-safe, on a monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may send again (0 when it may now)."""
        with self._lock:
            return max(0.0, self._open_at.get(key, 0.0) - self._clock())

    def close_for(self, key: str, seconds: float) -> None:
        """Hold every request with ``key`` back for ``seconds`` (never shortens a wait)."""
        with self._lock:
            until = self._clock() + seconds
            self._open_at[key] = max(until, self._open_at.get(key, 0.0))


GATE = RateGate()
"""The process-wide gate: one rate limit per API key, whatever connection uses it."""


def tls_context(config: HealthConfig) -> ssl.SSLContext | None:
    """The mutual-TLS context of README §2 (pinned CA, client certificate, TLS ≥ 1.2), or None
    when no certificate is configured (a loopback simulator)."""
    if config.client_cert is None or config.client_key is None or config.ca_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(config.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(config.client_cert), str(config.client_key))
    return context


class HealthConnection:
    """A ``Connection``: ``HttpTransport`` to the endpoint, paced, behind the key's gate."""

    def __init__(
        self,
        config: HealthConfig,
        transport: HttpTransport,
        gate: RateGate = GATE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = hashlib.sha256(config.api_key.get_secret_value().encode()).hexdigest()
        self._interval = PACE_MARGIN / config.max_requests_per_s
        self._transport = transport
        self._gate = gate
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def _pace(self) -> None:
        with self._lock:
            if self._last is not None:
                left = self._interval - (self._clock() - self._last)
                if left > 0:
                    self._sleep(left)
            self._last = self._clock()

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` unless the key is held back; a 429 closes the gate for its wait."""
        wait = self._gate.wait_s(self._key)
        if wait > 0:
            raise TransientError(
                f"health: rate limited, no request for another {wait:.0f} s",
                code="42901",
                retry_after=wait,
            )
        self._pace()
        answer = self._transport.send(call)
        if answer.meta.get("status") == "429":
            self._gate.close_for(self._key, retry_after_s(answer.headers.get("retry-after")))
        return answer

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._transport.close()


def open_transport(config: AdapterConfig, gate: RateGate = GATE) -> HealthConnection:
    """``AdapterSpec.connect``: the paced, gated HTTP transport at ``config.endpoint`` with the
    spec's timeouts (connect 5 s, read 30 s) and, when configured, mutual TLS."""
    settings = as_config(config)
    context = tls_context(settings)
    # HttpTransport hands ``verify`` to httpx, which takes an SSLContext as well as a path
    # (its annotation says str | bool; see the report: a shared ``tls`` option is wanted).
    verify: Any = context if context is not None else True
    transport = HttpTransport(
        "health",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        verify=cast(bool, verify),
    )
    return HealthConnection(settings, transport, gate)
