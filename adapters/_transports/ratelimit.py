"""A per-key rate-limit gate in front of a transport, for systems that throttle by API key.

Gateways that answer HTTP 429 with ``Retry-After`` (12345, the 卫健委 gateway) want no request
with that key — not only the refused one — until the wait is over. ``GatedConnection`` wraps a
transport (usually ``HttpTransport``) and

- while the key's gate is closed, raises ``TransientError`` with the remaining wait as
  ``retry_after`` instead of calling, so the runtime's retry waits at least that long;
- after each answer, asks the adapter's ``pause`` function how long that answer closes the gate
  (a 429's ``Retry-After``, a system's own "key locked" code) and closes it.

Keeping under the limit in the first place (pacing, a concurrency cap) is
``adapters._transports.pacing``: wrap the transport with ``paced`` before gating it.

The gate is process-wide by default (``GATE``): every connection using the same key — a poller
and the delivery workers of several calls — shares one limit. With ``shared`` (the bus's
``GateStore``, which ``AdapterSpec.connect_shared`` receives) the other processes of the bus
hold the key back too: a wait one process learns is stored, and each call first checks the store
(one read; these systems allow a few calls a second). Keys are held only as SHA-256 digests
(with the system id), never the key itself; the shared store keeps the digest, which, like any
hash, lets a weak key be guessed offline: use the generated keys the gateways issue. The
answers are returned unchanged; the mappings turn them into delivery outcomes::

    def connect(config):
        key = config.api_key.get_secret_value()
        transport = paced("health", key, HttpTransport("health", str(config.endpoint)),
                          config.rate_limit)
        return GatedConnection("health", key, transport, pause=pause_after_429, code="42901")
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable

from runner.adapter_api import (
    AdapterConfig,
    Connection,
    GateStore,
    Outgoing,
    RawMessage,
    SharedStores,
    TransientError,
)
from runner.logs import get_logger

__all__ = ["GATE", "GatedConnection", "RateGate", "retry_after_s", "sharing_waits"]


def retry_after_s(header: str | None, *, default: int, maximum: int) -> int:
    """``Retry-After`` in whole seconds when it is 1..``maximum``, else ``default`` (an HTTP
    date or a missing header is not waited on exactly)."""
    text = (header or "").strip()
    if text.isdigit() and 1 <= int(text) <= maximum:
        return int(text)
    return default


class RateGate:
    """When each key (by digest) may send again; thread-safe, on a monotonic clock."""

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
"""The process-wide gate: one rate limit per key, whatever connection uses it."""


log = get_logger("ebus.ratelimit")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class GatedConnection:
    """A ``Connection``: ``transport`` behind the key's ``RateGate``."""

    def __init__(
        self,
        system: str,
        secret: str,
        transport: Connection,
        *,
        pause: Callable[[RawMessage], float | None],
        code: str,
        gate: RateGate = GATE,
        shared: GateStore | None = None,
        wall_clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._system = system
        self._key = hashlib.sha256(f"{system}\0{secret}".encode()).hexdigest()
        self._transport = transport
        self._pause = pause
        self._code = code
        self._gate = gate
        self._shared = shared
        self._wall_clock = wall_clock

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` unless the key is held back (here or by another process); close the
        gate for any wait the answer asks for."""
        wait = self._gate.wait_s(self._key) or self._shared_wait_s()
        if wait > 0:
            raise TransientError(
                f"{self._system}: rate limited, no request for another {wait:.0f} s",
                code=self._code,
                retry_after=wait,
            )
        answer = self._transport.send(call)
        pause = self._pause(answer)
        if pause is not None:
            self._gate.close_for(self._key, pause)
            if self._shared is not None:
                until = self._wall_clock() + dt.timedelta(seconds=pause)
                try:
                    self._shared.hold(self._key, until)
                except TransientError:
                    # the answer still goes to its mapping and this process holds the key
                    # back; the other processes learn the wait from their own 429
                    log.warning("a rate limit wait could not be shared", system=self._system)
        return answer

    def _shared_wait_s(self) -> float:
        if self._shared is None:
            return 0.0
        until = self._shared.closed_until(self._key)
        if until is None:
            return 0.0
        return max(0.0, (until - self._wall_clock()).total_seconds())

    def close(self) -> None:
        """Close the transport."""
        self._transport.close()


def sharing_waits(
    open_transport: Callable[..., GatedConnection],
) -> Callable[[AdapterConfig, SharedStores], GatedConnection]:
    """The ``AdapterSpec.connect_shared`` of an adapter whose ``open_transport(config, *,
    shared=...)`` builds a ``GatedConnection``: the waits it learns hold the key back in every
    bus process (``stores.gates``)."""

    def connect_shared(config: AdapterConfig, stores: SharedStores) -> GatedConnection:
        return open_transport(config, shared=stores.gates)

    return connect_shared
