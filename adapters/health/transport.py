"""The link to the 卫健委 API gateway: mutual TLS, a paced request rate, and the 429 gate (the
shared ``adapters._transports.ratelimit``).

README §2: the gateway allows 5 requests per second per key and answers HTTP 429 with
``Retry-After`` (seconds) beyond it; the bus must wait that long before its next request. The
connection therefore

- paces its calls under ``rate_limit`` (default 5 per second) with the shared pacer
  (``adapters._transports.pacing``: 10 % margin, shared by every connection with the key);
- after a 429, sends nothing with that key for ``Retry-After`` seconds: ``send`` raises
  ``TransientError`` with the remaining wait as ``retry_after`` instead of calling — in every
  bus process when the runtime opened it (``SPEC.connect_shared``: the shared gate store).

Mutual TLS (README §2): with ``client_cert``, ``client_key`` and ``ca_file`` set, the client
presents the certificate, trusts only the pinned ``FJWJW Root CA G2`` and speaks TLS 1.2 or
1.3. A handshake refused by the server surfaces as ``TransientError`` ``CONNECTION`` from the
shared transport (no HTTP status exists for it).
"""

from __future__ import annotations

import ssl
from typing import Any, cast

from adapters._transports import ratelimit
from adapters._transports.http import HttpTransport
from adapters._transports.pacing import paced
from adapters._transports.ratelimit import GATE, GatedConnection, RateGate
from adapters.health.config import HealthConfig, as_config
from runner.adapter_api import AdapterConfig, GateStore, RawMessage

__all__ = [
    "DEFAULT_RETRY_AFTER_S",
    "RateGate",
    "open_transport",
    "pause_s",
    "retry_after_s",
    "tls_context",
]

DEFAULT_RETRY_AFTER_S = 5
"""The wait after a 429 whose ``Retry-After`` is missing or not a whole number of seconds."""
MAX_RETRY_AFTER_S = 3600


def retry_after_s(header: str | None) -> int:
    """``Retry-After`` in whole seconds (1..3600), else the default wait."""
    return ratelimit.retry_after_s(header, default=DEFAULT_RETRY_AFTER_S, maximum=MAX_RETRY_AFTER_S)


def pause_s(answer: RawMessage) -> int | None:
    """How long an answer closes the gate: a 429 for its ``Retry-After``."""
    if answer.meta.get("status") == "429":
        return retry_after_s(answer.headers.get("retry-after"))
    return None


def tls_context(config: HealthConfig) -> ssl.SSLContext | None:
    """The mutual-TLS context of README §2 (pinned CA, client certificate, TLS ≥ 1.2), or None
    when no certificate is configured (a loopback simulator)."""
    if config.client_cert is None or config.client_key is None or config.ca_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(config.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(config.client_cert), str(config.client_key))
    return context


def open_transport(
    config: AdapterConfig, gate: RateGate = GATE, shared: GateStore | None = None
) -> GatedConnection:
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
    key = settings.api_key.get_secret_value()
    return GatedConnection(
        "health",
        key,
        paced("health", key, transport, settings.rate_limit),
        pause=pause_s,
        code="42901",
        gate=gate,
        shared=shared,
    )
