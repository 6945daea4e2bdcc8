"""The link to the 12345 gateway: the shared HTTP transport behind the shared per-key rate gate
(``adapters._transports.ratelimit``).

README §2: above 600 requests a minute the gateway answers HTTP 429 with ``Retry-After`` (1..120
seconds), and the bus must then send **no** request with that key — not only the refused one —
for that long; repeated 429s lock the key for 10 minutes (HTTP 403, code ``1103``). The gate
is shared by every connection that uses the same key in this process (the poller and the
delivery workers of ``accept`` and ``feedback``) and, opened by the runtime
(``SPEC.connect_shared``), by every other bus process through the shared gate store, so that
no process calls into a wait another one learned: while it is closed, ``send`` raises
``TransientError`` (code ``1429``) with the remaining wait as ``retry_after`` instead of
calling. What is specific to 12345 is here: the bounds of ``Retry-After`` and the locked key.

To meet no 429 in the first place, the transport under the gate is paced under ``rate_limit``
(600 a minute, 20 in any second) by the key's shared pacer (``adapters._transports.pacing``).
"""

from __future__ import annotations

from adapters._transports import ratelimit
from adapters._transports.http import HttpTransport
from adapters._transports.pacing import paced
from adapters._transports.ratelimit import GATE, GatedConnection, RateGate
from adapters.hotline_12345.config import as_config
from adapters.hotline_12345.wire import answer_json
from runner.adapter_api import AdapterConfig, GateStore, RawMessage

__all__ = [
    "DEFAULT_RETRY_AFTER_S",
    "LOCKED_KEY_WAIT_S",
    "RateGate",
    "open_transport",
    "pause_s",
    "retry_after_s",
]

DEFAULT_RETRY_AFTER_S = 60
"""The wait after a 429 whose ``Retry-After`` is missing or not 1..120 seconds."""
LOCKED_KEY_WAIT_S = 600
"""A key locked after repeated 429s (HTTP 403 code 1103) is usable again after 10 minutes."""


def retry_after_s(header: str | None) -> int:
    """``Retry-After`` in whole seconds as README §2 allows it (1..120), else the default."""
    return ratelimit.retry_after_s(header, default=DEFAULT_RETRY_AFTER_S, maximum=120)


def pause_s(answer: RawMessage) -> int | None:
    """How long an answer closes the gate: 429 → ``Retry-After``, 1103 → 10 minutes."""
    status = answer.meta.get("status")
    if status == "429":
        return retry_after_s(answer.headers.get("retry-after"))
    if status in ("403", "200"):
        document = answer_json(answer.body)
        if isinstance(document, dict) and document.get("code") == "1103":
            return LOCKED_KEY_WAIT_S
    return None


def open_transport(
    config: AdapterConfig, gate: RateGate = GATE, shared: GateStore | None = None
) -> GatedConnection:
    """``AdapterSpec.connect``: the paced, gated HTTP transport at ``config.endpoint`` with the
    spec's timeouts (connect 5 s, read 30 s; the gateway itself gives up after 20 s, README §2)."""
    settings = as_config(config)
    transport = HttpTransport(
        "hotline_12345",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    secret = settings.api_key.get_secret_value()
    pacing = paced("hotline_12345", secret, transport, settings.rate_limit)
    return GatedConnection(
        "hotline_12345",
        secret,
        pacing,
        pause=pause_s,
        code="1429",
        gate=gate,
        shared=shared,
    )
