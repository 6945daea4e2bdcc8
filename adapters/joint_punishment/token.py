"""OAuth2 client credentials for joint_punishment (README §2.2, quirks Q2 and Q3): the shared
``adapters._transports.oauth2`` connection with this system's token call and refusal codes.

``SPEC.connect`` opens an ``OAuthConnection``: ``send`` gets a token from the client's
``TokenCache`` (fetching one when there is none or fewer than ``refresh_margin_s`` seconds of
it remain), sends the call with ``Authorization: Bearer …`` first, and when the answer says the
token is no good — HTTP 401, or HTTP 200 with ``code`` 40101/40102 behind the old gateway
(Q3) — refreshes the token once and sends the call once more. Whatever the second answer is,
it is returned: a second 401 maps to the ``refresh_token`` outcome, which the delivery worker
treats as final (README §2.2 step 5: credentials revoked, alert).

Issuing a token revokes the client's previous one (Q2), so every connection of a process shares
one cache per (endpoint, client id) and refreshes single-flight: a worker that finds the token
it used already replaced takes the new one instead of fetching a third. Every process of the
bus shares the token too: the runtime opens the connection with ``SPEC.connect_shared``, whose
token store every process reads; one process fetches, the others adopt it, so two processes
never revoke each other's token.

Example::

    connection = SPEC.connect(config)
    try:
        answer = connection.send(SPEC.outgoing("feedback", body, config, call))
    finally:
        connection.close()
"""

from __future__ import annotations

import json

from adapters._transports.http import HttpTransport
from adapters._transports.oauth2 import BearerConnection, SharedTokens, TokenCache
from adapters._transports.oauth2 import shared_cache as _shared_cache
from adapters._transports.pacing import paced
from adapters.joint_punishment.config import JointPunishmentConfig, as_config
from adapters.joint_punishment.wire import read_token, token_call
from runner.adapter_api import AdapterConfig, Connection, RawMessage, SharedStores

__all__ = [
    "EXPIRED_CODES",
    "OAuthConnection",
    "TokenCache",
    "needs_refresh",
    "open_connection",
    "open_shared_connection",
    "shared_cache",
]

EXPIRED_CODES = frozenset({"40101", "40102"})
"""Business codes of an HTTP 200 answer that mean "token expired / invalid" (quirk Q3)."""


def shared_tokens(config: JointPunishmentConfig, stores: SharedStores) -> SharedTokens:
    """The client's token as every bus process shares it (README §2.2, Q2)."""
    return SharedTokens(
        stores.tokens,
        "joint_punishment",
        str(config.endpoint),
        config.client_id,
        config.client_secret.get_secret_value(),
        margin_s=config.refresh_margin_s,
    )


def shared_cache(config: JointPunishmentConfig) -> TokenCache:
    """The process-wide cache of the client ``config`` names (one token per client, Q2)."""
    return _shared_cache(str(config.endpoint), config.client_id, config.refresh_margin_s)


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


class OAuthConnection(BearerConnection):
    """A ``Connection`` that authenticates every call with the client's bearer token."""

    def __init__(
        self,
        config: AdapterConfig,
        transport: HttpTransport | None = None,
        cache: TokenCache | None = None,
        shared: SharedTokens | None = None,
    ) -> None:
        self.config = as_config(config)
        super().__init__(
            transport or _paced(self.config),
            cache or shared_cache(self.config),
            token_call=token_call(self.config),
            read_token=read_token,
            refused=needs_refresh,
            shared=shared,
        )


def _paced(config: JointPunishmentConfig) -> Connection:
    """The HTTP transport under the client's shared pacer (token calls count too)."""
    return paced("joint_punishment", config.client_id, _transport(config), config.rate_limit)


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


def open_shared_connection(config: AdapterConfig, stores: SharedStores) -> OAuthConnection:
    """``AdapterSpec.connect_shared``: ``open_connection`` with the token every bus process
    shares through ``stores``."""
    settings = as_config(config)
    return OAuthConnection(settings, shared=shared_tokens(settings, stores))
