"""The link to the 12345 gateway: the shared HTTP transport behind a per-key rate-limit gate.

README §2: above 600 requests a minute the gateway answers HTTP 429 with ``Retry-After`` (1..120
seconds), and the bus must then send **no** request with that key — not only the refused one —
for that long; repeated 429s lock the key for 10 minutes (HTTP 403, code ``1103``). The gate
is shared by every connection that uses the same key in this process (the poller and the
delivery workers of ``accept`` and ``feedback``): while it is closed, ``send`` raises
``TransientError`` with the remaining wait as ``retry_after`` instead of calling, so the
runtime's retry waits at least that long. The answers themselves are returned unchanged; the
mappings turn them into delivery outcomes.

Keys are held only as SHA-256 digests in the gate (never the key itself).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from adapters._transports.http import HttpTransport
from adapters.hotline_12345.config import Hotline12345Config, as_config
from adapters.hotline_12345.wire import answer_json
from runner.adapter_api import AdapterConfig, Outgoing, RawMessage, TransientError

__all__ = [
    "DEFAULT_RETRY_AFTER_S",
    "LOCKED_KEY_WAIT_S",
    "Hotline12345Connection",
    "RateGate",
    "open_transport",
    "retry_after_s",
]

DEFAULT_RETRY_AFTER_S = 60
"""The wait after a 429 whose ``Retry-After`` is missing or not 1..120 seconds."""
LOCKED_KEY_WAIT_S = 600
"""A key locked after repeated 429s (HTTP 403 code 1103) is usable again after 10 minutes."""


def retry_after_s(header: str | None) -> int:
    """``Retry-After`` in whole seconds as README §2 allows it (1..120), else the default."""
    text = (header or "").strip()
    if text.isdigit() and 1 <= int(text) <= 120:
        return int(text)
    return DEFAULT_RETRY_AFTER_S


class RateGate:
    """When each API key (by digest) may send again; thread-safe, monotonic clock."""

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


def _digest(config: Hotline12345Config) -> str:
    return hashlib.sha256(config.api_key.get_secret_value().encode("utf-8")).hexdigest()


def _pause_s(answer: RawMessage) -> int | None:
    """How long an answer closes the gate: 429 → ``Retry-After``, 1103 → 10 minutes."""
    status = answer.meta.get("status")
    if status == "429":
        return retry_after_s(answer.headers.get("retry-after"))
    if status in ("403", "200"):
        document = answer_json(answer.body)
        if isinstance(document, dict) and document.get("code") == "1103":
            return LOCKED_KEY_WAIT_S
    return None


class Hotline12345Connection:
    """A ``Connection``: ``HttpTransport`` to the endpoint, behind the key's ``RateGate``."""

    def __init__(
        self, config: Hotline12345Config, transport: HttpTransport, gate: RateGate = GATE
    ) -> None:
        self._key = _digest(config)
        self._transport = transport
        self._gate = gate

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` unless the key is held back; note any wait the answer asks for."""
        wait = self._gate.wait_s(self._key)
        if wait > 0:
            raise TransientError(
                f"hotline_12345: rate limited, no request for another {wait:.0f} s",
                code="1429",
                retry_after=wait,
            )
        answer = self._transport.send(call)
        pause = _pause_s(answer)
        if pause is not None:
            self._gate.close_for(self._key, pause)
        return answer

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._transport.close()


def open_transport(config: AdapterConfig, gate: RateGate = GATE) -> Hotline12345Connection:
    """``AdapterSpec.connect``: the gated HTTP transport at ``config.endpoint`` with the spec's
    timeouts (connect 5 s, read 30 s; the gateway itself gives up after 20 s, README §2)."""
    settings = as_config(config)
    transport = HttpTransport(
        "hotline_12345",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    return Hotline12345Connection(settings, transport, gate)
