"""OAuth2 client credentials for joint_punishment: a shared token cache and a connection that
uses it (README §2.2, quirks Q2 and Q3).

``SPEC.connect`` opens an ``OAuthConnection``: ``send`` gets a token from the client's
``TokenCache`` (fetching one when there is none or fewer than ``refresh_margin_s`` seconds of
it remain), sends the call with ``Authorization: Bearer …`` first, and when the answer says the
token is no good — HTTP 401, or HTTP 200 with ``code`` 40101/40102 behind the old gateway
(Q3) — refreshes the token once and sends the call once more. Whatever the second answer is,
it is returned: a second 401 maps to the ``refresh_token`` outcome, which the delivery worker
treats as final (README §2.2 step 5: credentials revoked, alert).

Issuing a token revokes the client's previous one (Q2), so every connection of a process shares
one cache per (endpoint, client id) and refreshes single-flight: a worker that finds the token
it used already replaced takes the new one instead of fetching a third.

Example::

    connection = SPEC.connect(config)
    try:
        answer = connection.send(SPEC.outgoing("feedback", body, config, call))
    finally:
        connection.close()
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from adapters._transports.http import HttpTransport
from adapters.joint_punishment.config import JointPunishmentConfig, as_config
from adapters.joint_punishment.wire import Token, bearer, read_token, token_call
from runner.adapter_api import AdapterConfig, Outgoing, RawMessage

__all__ = [
    "EXPIRED_CODES",
    "OAuthConnection",
    "TokenCache",
    "needs_refresh",
    "open_connection",
    "shared_cache",
]

EXPIRED_CODES = frozenset({"40101", "40102"})
"""Business codes of an HTTP 200 answer that mean "token expired / invalid" (quirk Q3)."""

Clock = Callable[[], float]


class TokenCache:
    """One client's current token, refreshed single-flight under a lock.

    ``clock`` is monotonic seconds (tests move it); ``fetches`` counts tokens obtained.
    """

    def __init__(self, margin_s: int = 300, clock: Clock = time.monotonic) -> None:
        self.margin_s = margin_s
        self.fetches = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def current(self, fetch: Callable[[], Token]) -> str:
        """The token to use now, fetched first when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._store(fetch())
            assert self._token is not None
            return self._token

    def refresh(self, stale: str, fetch: Callable[[], Token]) -> str:
        """A token other than ``stale`` (refused by the peer): the one another worker already
        fetched, or a new one."""
        with self._lock:
            if self._token is None or self._token == stale or self._clock() >= self._refresh_at:
                self._store(fetch())
            assert self._token is not None
            return self._token

    def _store(self, token: Token) -> None:
        self.fetches += 1
        margin = min(self.margin_s, token.expires_in // 2)
        self._token = token.access_token
        self._refresh_at = self._clock() + token.expires_in - margin


_CACHES: dict[tuple[str, str], TokenCache] = {}
_CACHES_LOCK = threading.Lock()


def shared_cache(config: JointPunishmentConfig) -> TokenCache:
    """The process-wide cache of the client ``config`` names (one token per client, Q2)."""
    key = (str(config.endpoint), config.client_id)
    with _CACHES_LOCK:
        cache = _CACHES.get(key)
        if cache is None:
            cache = _CACHES[key] = TokenCache(config.refresh_margin_s)
        return cache


def needs_refresh(answer: RawMessage) -> bool:
    """True when ``answer`` refuses the token: HTTP 401, or HTTP 200 with 40101/40102 (Q3)."""
    status = answer.meta.get("status") or "200"
    if status == "401":
        return True
    if status != "200" or b"4010" not in answer.body:
        return False
    try:
        document = json.loads(answer.body.decode("utf-8-sig"))
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("code") in EXPIRED_CODES


class OAuthConnection:
    """A ``Connection`` that authenticates every call with the client's bearer token."""

    def __init__(
        self,
        config: AdapterConfig,
        transport: HttpTransport | None = None,
        cache: TokenCache | None = None,
    ) -> None:
        self.config = as_config(config)
        self._transport = transport or _transport(self.config)
        self._cache = cache or shared_cache(self.config)

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` with the current token; on a refused token refresh once and resend."""
        token = self._cache.current(self._fetch)
        answer = self._transport.send(_authorised(call, token))
        if not needs_refresh(answer):
            return answer
        token = self._cache.refresh(token, self._fetch)
        return self._transport.send(_authorised(call, token))

    def close(self) -> None:
        """Close the HTTP connection pool (the shared token stays cached)."""
        self._transport.close()

    def _fetch(self) -> Token:
        return read_token(self._transport.send(token_call(self.config)))


def _authorised(call: Outgoing, token: str) -> Outgoing:
    headers = {"Authorization": bearer(token)}
    headers |= {k: v for k, v in call.headers.items() if k.lower() != "authorization"}
    return Outgoing(call.body, headers, call.method, call.path, call.operation)


def _transport(config: JointPunishmentConfig) -> HttpTransport:
    return HttpTransport(
        "joint_punishment",
        str(config.endpoint),
        connect_timeout_s=config.connect_timeout_s,
        read_timeout_s=config.read_timeout_s,
        verify=config.ca_bundle or True,
    )


def open_connection(config: AdapterConfig) -> OAuthConnection:
    """``AdapterSpec.connect``: an ``OAuthConnection`` at ``config.endpoint`` (connect 5 s,
    read 15 s, README §2.3) sharing the process's token of this client."""
    return OAuthConnection(config)
