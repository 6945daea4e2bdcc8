"""OAuth2 client credentials (README §2.2, quirks Q2, Q3): the token call, reading the token,
the shared single-flight cache, and what counts as a refused token."""

from __future__ import annotations

import json
import threading
import time

import pytest

from adapters.joint_punishment.token import TokenCache, needs_refresh
from adapters.joint_punishment.wire import Token, read_token, token_call
from runner.adapter_api import PermanentError, RawMessage, TransientError
from tests.adapters.joint_punishment.samples import SAMPLE_TOKEN, SAMPLES, config, wire_request


def _answer(document: object, status: int = 200, **headers: str) -> RawMessage:
    body = json.dumps(document).encode() if not isinstance(document, bytes) else document
    return RawMessage(body=body, headers=headers, meta={"status": str(status)})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Hands out tok-1, tok-2, … and counts them."""

    def __init__(self, expires_in: int = 7200, pause: float = 0.0) -> None:
        self.count = 0
        self.expires_in = expires_in
        self.pause = pause

    def __call__(self) -> Token:
        time.sleep(self.pause)
        self.count += 1
        return Token(f"tok-{self.count}", self.expires_in)


# --- the token call ---------------------------------------------------------------------------


def test_the_token_call_is_the_token_request_sample_byte_for_byte():
    call = token_call(config())
    assert wire_request(call) == (SAMPLES / "token_request-1.http").read_bytes()


def test_the_token_response_sample_gives_its_token_and_lifetime():
    raw = RawMessage(body=(SAMPLES / "token_response-1.json").read_bytes())
    assert read_token(raw) == Token(SAMPLE_TOKEN, 7200)


@pytest.mark.parametrize(
    ("token_type", "expires_in"),
    [
        pytest.param("bearer", "7200", id="lifetime as a string"),
        pytest.param("Bearer", 7200, id="token type capitalised"),
    ],
)
def test_the_token_answer_quirks_are_accepted(token_type: str, expires_in: object):
    answer = {"access_token": "t", "token_type": token_type, "expires_in": expires_in}
    assert read_token(_answer(answer)) == Token("t", 7200)


def test_refused_client_credentials_are_permanent():
    with pytest.raises(PermanentError) as info:
        read_token(_answer({"error": "invalid_client"}, 401))
    assert info.value.code == "HTTP401"


def test_a_rate_limited_token_call_is_transient_with_its_retry_after():
    with pytest.raises(TransientError) as info:
        read_token(_answer({"error": "rate_limited"}, 429, **{"retry-after": "60"}))
    assert (info.value.code, info.value.retry_after) == ("HTTP429", 60)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"<html>oops</html>", id="not json"),
        pytest.param(
            {"access_token": "t", "token_type": "mac", "expires_in": 7200}, id="not bearer"
        ),
        pytest.param({"access_token": "", "token_type": "bearer", "expires_in": 7200}, id="empty"),
        pytest.param({"access_token": "t", "token_type": "bearer", "expires_in": "soon"}, id="ttl"),
    ],
)
def test_a_malformed_token_answer_is_transient(answer: object):
    with pytest.raises(TransientError, match="malformed"):
        read_token(_answer(answer))


def test_neither_the_token_nor_the_secret_appears_in_a_repr():
    assert SAMPLE_TOKEN not in repr(Token(SAMPLE_TOKEN, 7200))
    assert "Qm9zc0hvZ2dAMjAyNCNmaiFlc2I" not in repr(config())


# --- the cache --------------------------------------------------------------------------------


def test_one_token_serves_every_call_until_300_seconds_before_it_expires():
    clock, issuer = FakeClock(), Issuer()
    cache = TokenCache(300, clock)
    assert cache.current(issuer) == "tok-1"
    clock.now += 7200 - 301
    assert cache.current(issuer) == "tok-1"
    clock.now += 1
    assert cache.current(issuer) == "tok-2"
    assert issuer.count == 2


def test_a_short_lived_token_is_refreshed_at_half_its_life_not_on_every_call():
    clock, issuer = FakeClock(), Issuer(expires_in=120)
    cache = TokenCache(300, clock)
    cache.current(issuer)
    clock.now += 59
    assert cache.current(issuer) == "tok-1"
    clock.now += 1
    assert cache.current(issuer) == "tok-2"


def test_a_refused_token_is_replaced():
    cache, issuer = TokenCache(300, FakeClock()), Issuer()
    stale = cache.current(issuer)
    assert cache.refresh(stale, issuer) == "tok-2"


def test_a_token_another_worker_already_replaced_is_not_fetched_again():
    cache, issuer = TokenCache(300, FakeClock()), Issuer()
    stale = cache.current(issuer)
    assert cache.refresh(stale, issuer) == "tok-2"
    assert cache.refresh(stale, issuer) == "tok-2"  # a second worker that held tok-1
    assert issuer.count == 2


def test_workers_refusing_the_same_token_at_once_fetch_one_new_token():
    cache, issuer = TokenCache(300, FakeClock()), Issuer(pause=0.05)
    stale = cache.current(issuer)
    got: list[str] = []
    workers = [
        threading.Thread(target=lambda: got.append(cache.refresh(stale, issuer))) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert got == ["tok-2"] * 8
    assert issuer.count == 2


# --- refused tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "document", "refused"),
    [
        pytest.param(401, {"error": "invalid_token"}, True, id="401"),
        pytest.param(200, {"code": "40101", "msg": "token已过期"}, True, id="200 with 40101"),
        pytest.param(200, {"code": "40102", "msg": "token无效"}, True, id="200 with 40102"),
        pytest.param(200, {"code": "40001", "msg": "参数错误"}, False, id="200 with 40001"),
        pytest.param(200, {"code": "0", "data": {"feedbackNo": "40101"}}, False, id="0"),
        pytest.param(403, {"code": "40101"}, False, id="403"),
    ],
)
def test_a_token_is_refused_by_401_or_by_200_with_40101_or_40102(
    status: int, document: object, refused: bool
):
    assert needs_refresh(_answer(document, status)) is refused
