"""The shared OAuth2 client credentials: the token call, the token answer, and a connection that
refreshes a refused token once and resends."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters._transports.oauth2 import (
    BearerConnection,
    SharedTokens,
    Token,
    TokenCache,
    client_credentials_call,
    read_token,
)
from runner.adapter_api import Outgoing, PermanentError, RawMessage, TransientError
from runner.stores import Database
from runner.stores.tokens import SharedTokenStore


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

    def __init__(self, expires_in: int = 7200) -> None:
        self.issued = 0
        self.expires_in = expires_in
        self.revoked = False
        self.sent: list[Outgoing] = []

    def send(self, call: Outgoing) -> RawMessage:
        self.sent.append(call)
        if call.path == "/token":
            self.issued += 1
            token = {"access_token": f"tok-{self.issued}", "token_type": "bearer"}
            return _answer(token | {"expires_in": self.expires_in})
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


# --- one token for every process (SharedTokens over the bus's token store) ---------------------

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SharedTokenStore]:
    with Database.open(f"sqlite:///{tmp_path}/store.db") as db:
        yield SharedTokenStore(db)


def _process(
    peer: Peer, store: SharedTokenStore | None, secret: str = "s", **timing: Any
) -> BearerConnection:
    """One bus process's connection: a token cache of its own, the store shared."""
    token_call = client_credentials_call("/token", "c", secret, "api")
    shared = (
        None if store is None else SharedTokens(store, "peer", "https://p", "c", secret, **timing)
    )
    return BearerConnection(
        peer,
        TokenCache(),
        token_call=token_call,
        read_token=lambda raw: read_token("peer", raw),
        shared=shared,
    )


def _calls(connections: list[BearerConnection], n: int) -> list[str]:
    return [connections[i % len(connections)].send(CALL).meta["status"] for i in range(n)]


CALL = Outgoing(b"{}", {}, "POST", "/api")


def test_two_processes_without_the_store_revoke_each_others_token_on_every_turn():
    peer = Peer()
    assert _calls([_process(peer, None), _process(peer, None)], 10) == ["200"] * 10
    assert peer.issued == 10  # each turn: 401, a new token (revoking the other's), resend


def test_two_processes_sharing_the_store_fetch_one_token_and_are_never_refused(store):
    peer = Peer()
    assert _calls([_process(peer, store), _process(peer, store)], 10) == ["200"] * 10
    assert peer.issued == 1
    assert [c.path for c in peer.sent].count("/api") == 10  # no call was refused and resent


def test_a_token_refused_in_one_process_is_replaced_once_for_all(store):
    peer = Peer()
    first, second = _process(peer, store), _process(peer, store)
    _calls([first, second], 2)
    peer.issued += 1  # the server issued a newer token elsewhere: tok-1 is refused everywhere
    assert _calls([first, second], 4) == ["200"] * 4
    assert peer.issued == 3  # one refresh (tok-3), adopted by the second process
    assert [c.path for c in peer.sent].count("/token") == 2


def test_a_process_waits_for_the_refresh_another_one_claimed_and_adopts_it(store):
    other = SharedTokens(store, "peer", "https://p", "c", "s")
    claim = store.claim(other._key, 0, NOW, lease_s=30)  # the other process is fetching
    assert claim is not None

    def other_publishes(_seconds: float) -> None:
        sealed = other._seal(Token("tok-other", 7200))
        store.publish(other._key, claim, sealed, NOW + dt.timedelta(hours=2))

    waiting = SharedTokens(
        store, "peer", "https://p", "c", "s", clock=lambda: NOW, sleep=other_publishes
    )
    token = waiting.obtain(None, fetch=lambda: pytest.fail("fetched a token of its own"))
    assert token == Token("tok-other", 7200)


def test_a_refresh_claimed_and_never_finished_is_a_transient_error(store):
    hung = SharedTokens(store, "peer", "https://p", "c", "s")
    store.claim(hung._key, 0, dt.datetime.now(dt.UTC), lease_s=30)
    waiting = SharedTokens(store, "peer", "https://p", "c", "s", lease_s=0.05, wait_s=0.01)
    with pytest.raises(TransientError, match="did not finish") as caught:
        waiting.obtain(None, fetch=lambda: pytest.fail("fetched under another's claim"))
    assert caught.value.code == "TOKEN"


def test_a_failed_fetch_gives_the_claim_up(store):
    shared = SharedTokens(store, "peer", "https://p", "c", "s")

    def refused() -> Token:
        raise TransientError("token endpoint down", code="HTTP503")

    with pytest.raises(TransientError, match="down"):
        shared.obtain(None, refused)
    assert store.read(shared._key).claimed_until is None
    assert shared.obtain(None, lambda: Token("tok-1", 7200)) == Token("tok-1", 7200)


def test_a_fetch_that_outlived_its_lease_keeps_its_token_but_not_the_store(store):
    clock = [NOW]
    slow = SharedTokens(store, "peer", "https://p", "c", "s", clock=lambda: clock[0])
    quick = SharedTokens(store, "peer", "https://p", "c", "s", clock=lambda: clock[0])

    def slow_fetch() -> Token:  # meanwhile the lease lapses and another process refreshes
        clock[0] = NOW + dt.timedelta(seconds=31)
        assert quick.obtain(None, lambda: Token("tok-quick", 7200)) == Token("tok-quick", 7200)
        return Token("tok-slow", 7200)

    with capture_logs() as logs:
        assert slow.obtain(None, slow_fetch) == Token("tok-slow", 7200)
    assert [e["event"] for e in logs] == [
        "a fetched token could not be shared: the other processes keep theirs"
    ]
    # what every process adopts is the token published under a live claim
    assert quick.obtain(None, lambda: pytest.fail("fetched again")).access_token == "tok-quick"


@pytest.mark.parametrize(("lifetime", "renew_left"), [(7200, 300), (300, 150)])
def test_a_stored_token_is_adopted_until_it_is_due_for_renewal(store, lifetime, renew_left):
    """The cache's rule: 300 s before expiry, or at half the life of a shorter-lived token."""
    clock = [NOW]
    shared = SharedTokens(store, "peer", "https://p", "c", "s", clock=lambda: clock[0])
    shared.obtain(None, lambda: Token("tok-1", lifetime))
    clock[0] = NOW + dt.timedelta(seconds=lifetime - renew_left - 1)
    assert shared.obtain(None, lambda: Token("tok-2", lifetime)).access_token == "tok-1"
    clock[0] = NOW + dt.timedelta(seconds=lifetime - renew_left)
    assert shared.obtain(None, lambda: Token("tok-2", lifetime)).access_token == "tok-2"


def test_two_processes_share_a_short_lived_token_too(store):
    peer = Peer(expires_in=240)
    assert _calls([_process(peer, store), _process(peer, store)], 6) == ["200"] * 6
    assert peer.issued == 1


def test_the_store_holds_the_token_sealed_with_the_client_secret(store):
    peer = Peer()
    _calls([_process(peer, store, secret="s")], 1)
    key = SharedTokens(store, "peer", "https://p", "c", "s")._key
    sealed = store.read(key).sealed
    assert sealed is not None
    assert "tok-1" not in sealed
    assert b"tok-1" not in base64.b64decode(sealed)
    # a client with another secret cannot open it: it fetches a token of its own
    _calls([_process(peer, store, secret="other")], 1)
    assert peer.issued == 2


def test_a_changed_row_is_refused_not_sent(store):
    shared = SharedTokens(store, "peer", "https://p", "c", "s", clock=lambda: NOW)
    shared.obtain(None, lambda: Token("tok-1", 7200))
    row = store.read(shared._key)
    assert row.sealed is not None
    raw = bytearray(base64.b64decode(row.sealed))
    # CBC lets one who can write the row flip chosen bits of the first block through the IV:
    # '{"token": "tok-1", …' becomes '{"token": "uok-1", …', still valid JSON. The MAC refuses it.
    raw[11] ^= 1
    with store._db.write() as conn:
        conn.exec_driver_sql(
            "UPDATE ebus_shared_tokens SET sealed = ?", (base64.b64encode(bytes(raw)).decode(),)
        )
    assert shared.obtain(None, lambda: Token("tok-2", 7200)).access_token == "tok-2"


def test_a_publish_the_store_refuses_keeps_the_token_and_gives_the_claim_up(store, monkeypatch):
    shared = SharedTokens(store, "peer", "https://p", "c", "s")

    def unavailable(*_args: Any) -> bool:
        raise TransientError("store down", code="STORE")

    monkeypatch.setattr(store, "publish", unavailable)
    with capture_logs() as logs:
        assert shared.obtain(None, lambda: Token("tok-1", 7200)) == Token("tok-1", 7200)
    assert store.read(shared._key).claimed_until is None  # the others may try at once
    assert [e["event"] for e in logs] == [
        "a fetched token could not be shared: the other processes keep theirs"
    ]


def test_while_another_process_renews_the_old_token_is_used_without_waiting(store):
    clock = [NOW]
    shared = SharedTokens(
        store,
        "peer",
        "https://p",
        "c",
        "s",
        clock=lambda: clock[0],
        sleep=lambda _s: pytest.fail("waited on another process's renewal"),
    )
    shared.obtain(None, lambda: Token("tok-1", 7200))
    clock[0] = NOW + dt.timedelta(seconds=7200 - 200)  # due for renewal, 200 s left
    assert store.claim(shared._key, 1, clock[0], lease_s=30) is not None  # another renews
    token = shared.obtain(None, lambda: pytest.fail("fetched under another's claim"))
    assert (token.access_token, token.expires_in) == ("tok-1", 200)


def test_an_adopted_token_is_renewed_by_its_issued_life_not_by_what_is_left():
    clock = [0.0]
    cache = TokenCache(300, lambda: clock[0])
    fetched: list[Token] = [Token("t-adopted", 500, lifetime=7200), Token("t-new", 7200)]
    assert cache.current(lambda: fetched.pop(0)) == "t-adopted"
    clock[0] = 199.0  # 301 s left: not yet
    assert cache.current(lambda: fetched.pop(0)) == "t-adopted"
    clock[0] = 200.0  # 300 s left: the 300 s margin of a 7,200 s token, not half of 500
    assert cache.current(lambda: fetched.pop(0)) == "t-new"
