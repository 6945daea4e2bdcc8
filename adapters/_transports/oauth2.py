"""OAuth2 client credentials (RFC 6749 §4.4): the token call, the token answer, a token cache
shared per client, and a connection that sends every call with the client's bearer token.

``BearerConnection.send`` takes a token from its ``TokenCache`` (fetching one when there is
none or fewer than ``margin_s`` seconds of it remain), sends the call with
``Authorization: Bearer …`` first, and when ``refused(answer)`` says the token is no good (HTTP
401 by default; a system may add its own codes) refreshes the token once and sends the call
once more. Whatever the second answer is, it is returned: the answer's mapping decides (a
second 401 is final: credentials revoked).

Servers that revoke a client's previous token when they issue a new one are common, so every
connection of a process shares one cache per (endpoint, client id) (``shared_cache``) and
refreshes single-flight: a worker that finds the token it used already replaced takes the new
one instead of fetching a third. Across processes (``ebus run --processes N``, several
machines) ``SharedTokens`` does the same through the bus's ``TokenStore``: the process that
claims a refresh fetches, the others adopt what it publishes. The stored token is sealed (SM4,
then HMAC-SM3) with keys derived from the client secret, so the database alone never yields a
usable token.
Tokens and client secrets never reach a log or an error text::

    connection = BearerConnection(
        transport,
        shared_cache(endpoint, client_id, margin_s=300),
        token_call=client_credentials_call("/oauth/token", client_id, secret, scope="api"),
        read_token=lambda raw: read_token("my_system", raw),
        shared=SharedTokens(stores.tokens, "my_system", endpoint, client_id, secret),
    )
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from runner.adapter_api import (
    Connection,
    Outgoing,
    PermanentError,
    RawMessage,
    StoredToken,
    TokenStore,
    TransientError,
    hmac_sm3_hex,
    same_hex,
    sm4_cbc_decrypt,
    sm4_cbc_encrypt,
)
from runner.logs import get_logger

__all__ = [
    "BearerConnection",
    "SharedTokens",
    "Token",
    "TokenCache",
    "bearer",
    "client_credentials_call",
    "read_token",
    "shared_cache",
    "unauthorized",
]

Clock = Callable[[], float]

log = get_logger("ebus.oauth2")


@dataclass(frozen=True)
class Token:
    """An access token and how many seconds it is valid for; ``lifetime`` is what it was issued
    for when that was longer (a token another process fetched earlier: the cache renews it by
    its issued life, not by what is left)."""

    access_token: str
    expires_in: int
    lifetime: int | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Token(expires_in={self.expires_in})"  # the token itself is a credential


def bearer(token: str) -> str:
    """The ``Authorization`` value of a call made with ``token``."""
    return f"Bearer {token}"


def client_credentials_call(path: str, client_id: str, secret: str, scope: str) -> Outgoing:
    """``POST path`` with HTTP Basic client credentials and the form body
    ``grant_type=client_credentials&scope=…`` (RFC 6749 §4.4.2)."""
    pair = f"{client_id}:{secret}"
    body = urlencode({"grant_type": "client_credentials", "scope": scope}, quote_via=quote)
    encoded = body.encode("ascii")
    headers = {
        "Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii"),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "Content-Length": str(len(encoded)),
    }
    return Outgoing(body=encoded, headers=headers, method="POST", path=path, operation="token")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None


def _lifetime(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # some servers send "7200"
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    return value


def read_token(system: str, raw: RawMessage) -> Token:
    """The token of a token answer (RFC 6749 §5.1: ``access_token``, ``token_type`` bearer in
    any case, ``expires_in`` a number or its digits). A refusal raises ``PermanentError``
    (400/401/403: bad credentials) or ``TransientError`` (429 with its ``Retry-After``, 5xx, an
    answer that is not a token). The answer is never logged."""
    status = int(raw.meta.get("status") or "200")
    if status in (400, 401, 403):
        raise PermanentError(
            f"{system}: the token endpoint refused the client (HTTP {status})",
            code=f"HTTP{status}",
        )
    if status != 200:
        wait = raw.headers.get("retry-after", "")
        raise TransientError(
            f"{system}: the token endpoint answered HTTP {status}",
            code=f"HTTP{status}",
            retry_after=float(wait) if wait.isdigit() else None,
        )
    document = _json(raw.body)
    fields = document if isinstance(document, dict) else {}
    token, kind = fields.get("access_token"), fields.get("token_type")
    lifetime = _lifetime(fields.get("expires_in"))
    if not isinstance(token, str) or not token or not isinstance(kind, str):
        lifetime = None
    if lifetime is None or str(kind).lower() != "bearer":
        raise TransientError(f"{system}: the token answer is malformed", code="TOKEN")
    return Token(str(token), lifetime)


class TokenCache:
    """One client's current token, refreshed single-flight under a lock.

    A token is replaced ``margin_s`` seconds before it expires (at half its life when it is
    shorter). ``clock`` is monotonic seconds (tests move it); ``fetches`` counts tokens obtained.
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
        margin = min(self.margin_s, (token.lifetime or token.expires_in) // 2)
        self._token = token.access_token
        self._refresh_at = self._clock() + token.expires_in - margin


_CACHES: dict[tuple[str, str], TokenCache] = {}
_CACHES_LOCK = threading.Lock()


def shared_cache(endpoint: str, client_id: str, margin_s: int = 300) -> TokenCache:
    """The process-wide cache of one client at one endpoint (one token per client)."""
    with _CACHES_LOCK:
        cache = _CACHES.get((endpoint, client_id))
        if cache is None:
            cache = _CACHES[(endpoint, client_id)] = TokenCache(margin_s)
        return cache


WallClock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


RENEWING_MIN_S = 10
"""While another process renews the token, the old one is used if it has more than this left."""


class SharedTokens:
    """One client's token shared by every process through the bus's ``TokenStore``.

    ``obtain(stale, fetch)`` answers a token other than ``stale`` that is not yet due for
    renewal (the ``TokenCache`` rule: ``margin_s`` before it expires, at half its life when it
    is shorter): the stored one when it is, else one this process fetches after claiming the
    refresh (for ``lease_s`` seconds). While another process holds the claim, a stored token
    that is due for renewal but not expired is used meanwhile (the workers of this process do
    not wait on a renewal); otherwise it waits, ``wait_s`` at a time, and adopts what that one
    publishes. A failed fetch gives the claim up. A publish that comes too late (the lease
    lapsed and another process took over) leaves this process with the token it fetched; on a
    server that keeps one token per client one of the two is revoked, the processes holding it
    meet one refusal each, and the refresh that follows is single-flight again.

    The token is stored sealed: SM4-CBC, then HMAC-SM3 over it (encrypt-then-MAC), under keys
    derived from the client secret and the client's row, so the database alone never yields a
    usable token and a changed row is refused rather than sent.
    """

    def __init__(
        self,
        store: TokenStore,
        system: str,
        endpoint: str,
        client_id: str,
        secret: str,
        *,
        margin_s: int = 300,
        lease_s: float = 30.0,
        wait_s: float = 0.2,
        clock: WallClock = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.margin_s = margin_s
        self._store = store
        self._key = hashlib.sha256(f"{system}\0{endpoint}\0{client_id}".encode()).hexdigest()
        keys = bytes.fromhex(
            hmac_sm3_hex(secret.encode("utf-8"), f"ebus token seal\0{self._key}".encode())
        )
        self._cipher_key, self._mac_key = keys[:16], keys[16:]
        self._lease_s = lease_s
        self._wait_s = wait_s
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"SharedTokens({self.system!r})"  # no key material

    def obtain(self, stale: str | None, fetch: Callable[[], Token]) -> Token:
        """A usable token other than ``stale``: adopted from the store, or fetched once."""
        give_up = time.monotonic() + self._lease_s + 5 * self._wait_s
        while True:
            row = self._store.read(self._key)
            now = self._clock()
            adopted = self._usable(row, stale, now)
            if adopted is not None:
                return adopted
            claim = self._store.claim(self._key, row.version, now, self._lease_s)
            if claim is not None:
                return self._refresh(claim, now, fetch)
            meanwhile = self._usable(row, stale, now, renewing=True)
            if meanwhile is not None:
                return meanwhile
            if time.monotonic() > give_up:
                raise TransientError(
                    f"{self.system}: another process's token refresh did not finish",
                    code="TOKEN",
                )
            self._sleep(self._wait_s)

    def _usable(
        self, row: StoredToken, stale: str | None, now: dt.datetime, *, renewing: bool = False
    ) -> Token | None:
        """The stored token, unless it is ``stale``, unreadable or due for renewal — or, while
        another process renews it, expired (``RENEWING_MIN_S`` left)."""
        if row.sealed is None or row.expires_at is None:
            return None
        opened = self._open(row.sealed)
        if opened is None:
            return None
        token, lifetime = opened
        left = int((row.expires_at - now).total_seconds())
        due = RENEWING_MIN_S if renewing else min(self.margin_s, lifetime // 2)
        if token == stale or left <= due:
            return None
        return Token(token, left, lifetime)

    def _refresh(self, claim: str, now: dt.datetime, fetch: Callable[[], Token]) -> Token:
        try:
            token = fetch()
        except BaseException:
            self._release(claim)
            raise
        expires = now + dt.timedelta(seconds=token.expires_in)
        try:
            published = self._store.publish(self._key, claim, self._seal(token), expires)
        except TransientError:
            self._release(claim)
            published = False
        if not published:
            log.warning(
                "a fetched token could not be shared: the other processes keep theirs",
                system=self.system,
            )
        return token

    def _release(self, claim: str) -> None:
        """Give the claim up; when the store cannot be reached its lease lapses instead."""
        with contextlib.suppress(TransientError):
            self._store.release(self._key, claim)

    def _seal(self, token: Token) -> str:
        payload = json.dumps({"token": token.access_token, "lifetime": token.expires_in})
        iv = os.urandom(16)
        box = iv + sm4_cbc_encrypt(self._cipher_key, iv, payload.encode("utf-8"))
        return base64.b64encode(box + self._mac(box)).decode("ascii")

    def _open(self, sealed: str) -> tuple[str, int] | None:
        """The token and its issued lifetime, or None when the row was sealed with another
        secret, for another client, or changed."""
        try:
            raw = base64.b64decode(sealed, validate=True)
        except ValueError:
            return None
        box, mac = raw[:-32], raw[-32:]
        if len(box) < 32 or not same_hex(self._mac(box).hex(), mac.hex()):
            return None
        try:
            payload = json.loads(sm4_cbc_decrypt(self._cipher_key, box[:16], box[16:]))
            return str(payload["token"]), int(payload["lifetime"])
        except (ValueError, KeyError, TypeError):
            return None

    def _mac(self, box: bytes) -> bytes:
        return bytes.fromhex(hmac_sm3_hex(self._mac_key, self._key.encode("ascii") + box))


def unauthorized(answer: RawMessage) -> bool:
    """True for an HTTP 401 answer: the token was refused."""
    return answer.meta.get("status") == "401"


class BearerConnection:
    """A ``Connection`` that authenticates every call with the client's bearer token."""

    def __init__(
        self,
        transport: Connection,
        cache: TokenCache,
        *,
        token_call: Outgoing,
        read_token: Callable[[RawMessage], Token],
        refused: Callable[[RawMessage], bool] = unauthorized,
        shared: SharedTokens | None = None,
    ) -> None:
        self._transport = transport
        self._cache = cache
        self._token_call = token_call
        self._read_token = read_token
        self._refused = refused
        self._shared = shared

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` with the current token; on a refused token refresh once and resend."""
        token = self._cache.current(lambda: self._obtain(None))
        answer = self._transport.send(_authorised(call, token))
        if not self._refused(answer):
            return answer
        stale = token
        token = self._cache.refresh(stale, lambda: self._obtain(stale))
        return self._transport.send(_authorised(call, token))

    def close(self) -> None:
        """Close the transport (the shared token stays cached)."""
        self._transport.close()

    def _fetch(self) -> Token:
        return self._read_token(self._transport.send(self._token_call))

    def _obtain(self, stale: str | None) -> Token:
        """A token from the other processes when they have a usable one, else fetched."""
        if self._shared is None:
            return self._fetch()
        return self._shared.obtain(stale, self._fetch)


def _authorised(call: Outgoing, token: str) -> Outgoing:
    headers = {"Authorization": bearer(token)}
    headers |= {k: v for k, v in call.headers.items() if k.lower() != "authorization"}
    return Outgoing(call.body, headers, call.method, call.path, call.operation)
