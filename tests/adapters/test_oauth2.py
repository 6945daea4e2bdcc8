"""The shared OAuth2 client credentials: the token call, the token answer, and a connection that
refreshes a refused token once and resends."""

from __future__ import annotations

import base64
import json

import pytest

from adapters._transports.oauth2 import (
    BearerConnection,
    Token,
    TokenCache,
    client_credentials_call,
    read_token,
)
from runner.adapter_api import Outgoing, PermanentError, RawMessage, TransientError


def _answer(document: object, status: int = 200, **headers: str) -> RawMessage:
    return RawMessage(json.dumps(document).encode(), headers, {"status": str(status)})


def test_the_token_call_posts_basic_client_credentials_and_the_form_body():
    call = client_credentials_call("/oauth/token", "client-1", "s3cret:x", "api read")
    assert (call.method, call.path, call.body) == (
        "POST",
        "/oauth/token",
        b"grant_type=client_credentials&scope=api%20read",
    )
    basic = call.headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(basic) == b"client-1:s3cret:x"
    assert call.headers["Content-Length"] == str(len(call.body))


@pytest.mark.parametrize("lifetime", [7200, "7200"])
def test_a_bearer_token_answer_gives_the_token_and_its_lifetime(lifetime: object):
    answer = _answer({"access_token": "t", "token_type": "Bearer", "expires_in": lifetime})
    assert read_token("peer", answer) == Token("t", 7200)


def test_a_refused_client_is_permanent_and_a_throttled_call_transient_with_its_wait():
    with pytest.raises(PermanentError):
        read_token("peer", _answer({"error": "invalid_client"}, 401))
    with pytest.raises(TransientError) as caught:
        read_token("peer", _answer({}, 429, **{"retry-after": "60"}))
    assert caught.value.retry_after == 60.0


@pytest.mark.parametrize(
    "document",
    [
        {"access_token": "t", "token_type": "mac", "expires_in": 7200},
        {"access_token": "", "token_type": "bearer", "expires_in": 7200},
        {"access_token": "t", "token_type": "bearer", "expires_in": 0},
        ["not", "an", "object"],
    ],
)
def test_an_answer_that_is_not_a_bearer_token_is_transient_and_never_quoted(document: object):
    with pytest.raises(TransientError, match="malformed") as caught:
        read_token("peer", _answer(document))
    assert "access_token" not in str(caught.value)


class Peer:
    """A token endpoint and an API: the API refuses every token but the latest one."""

    def __init__(self) -> None:
        self.issued = 0
        self.revoked = False
        self.sent: list[Outgoing] = []

    def send(self, call: Outgoing) -> RawMessage:
        self.sent.append(call)
        if call.path == "/token":
            self.issued += 1
            token = {"access_token": f"tok-{self.issued}", "token_type": "bearer"}
            return _answer(token | {"expires_in": 7200})
        latest = f"Bearer tok-{self.issued}"
        good = call.headers["Authorization"] == latest and not self.revoked
        return _answer({}, 200 if good else 401)

    def close(self) -> None:
        """Nothing to release."""


def _connection(peer: Peer, cache: TokenCache) -> BearerConnection:
    token_call = client_credentials_call("/token", "c", "s", "api")
    return BearerConnection(
        peer, cache, token_call=token_call, read_token=lambda raw: read_token("peer", raw)
    )


def test_calls_carry_the_bearer_token_first_and_share_it():
    peer, cache = Peer(), TokenCache()
    call = Outgoing(b"{}", {"authorization": "old", "X-Id": "1"}, "POST", "/api")
    assert _connection(peer, cache).send(call).meta["status"] == "200"
    assert _connection(peer, cache).send(call).meta["status"] == "200"
    assert peer.issued == 1
    assert list(peer.sent[-1].headers) == ["Authorization", "X-Id"]


def test_a_refused_token_is_refreshed_once_and_the_call_sent_again():
    peer, cache = Peer(), TokenCache()
    connection = _connection(peer, cache)
    connection.send(Outgoing(b"{}", {}, "POST", "/api"))
    peer.issued += 1  # the server issued a newer token to someone else: ours is refused
    answer = connection.send(Outgoing(b"{}", {}, "POST", "/api"))
    assert answer.meta["status"] == "200"
    assert [c.path for c in peer.sent] == ["/token", "/api", "/api", "/token", "/api"]


def test_a_second_refusal_is_returned_as_it_is():
    peer = Peer()
    peer.revoked = True
    answer = _connection(peer, TokenCache()).send(Outgoing(b"{}", {}, "POST", "/api"))
    assert answer.meta["status"] == "401"
    assert [c.path for c in peer.sent] == ["/token", "/api", "/token", "/api"]
