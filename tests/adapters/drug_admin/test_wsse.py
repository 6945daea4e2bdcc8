"""WS-Security UsernameToken with PasswordDigest (README §2.3) and its zeep token."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from lxml import etree

from adapters.drug_admin import (
    SERVICE,
    SPEC,
    DrugAdminConfig,
    created_text,
    nonce_bytes,
    password_digest,
    token,
)
from adapters.drug_admin._wsse import WSSE, WSU
from runner.adapter_api import CallContext, PermanentError
from tests.adapters.drug_admin._support import at

DEMO = DrugAdminConfig.model_validate(dict(SPEC.demo_config))


@pytest.mark.parametrize(
    ("nonce", "created", "digest"),
    [
        pytest.param(
            "Wh8MnjO4TSem4PRRm8LYcA==",
            "2024-03-08T02:00:00Z",
            "K5UOgGMyBiqheFznv/KszRbEkx0=",
            id="worked example",
        ),
        pytest.param(
            "xOh6IZBfPbYYfi+p0FSzbA==",
            "2024-03-11T01:30:00Z",
            "l8RH2vPRyG8TxuF2mo1ZF3/ztGA=",
            id="second example",
        ),
        pytest.param(
            "jS5bfAH6RumzwtdOkKH2tQ==",
            "2024-03-05T09:50:00Z",
            "Z8eYtajlkqXBzAIzFAoLFDswbSE=",
            id="query_inspections-1",
        ),
        pytest.param(
            "G5w+fVoPQsjmsalNfyDDXg==",
            "2024-03-06T02:20:00Z",
            "TJngTd7M+juG+7lMwqFUZ/QvOkk=",
            id="query_penalties-1",
        ),
    ],
)
def test_password_digest_is_sha1_of_raw_nonce_created_and_password(nonce, created, digest):
    assert password_digest(base64.b64decode(nonce), created, "Ypjg#Test2024") == digest


def test_the_worked_example_nonce_is_given_as_hex_too():
    raw = nonce_bytes("5a1f0c9e33b84d27a6e0f4519bc2d870")
    assert base64.b64encode(raw).decode() == "Wh8MnjO4TSem4PRRm8LYcA=="


def test_without_a_given_nonce_every_call_gets_16_fresh_bytes():
    first, second = nonce_bytes(), nonce_bytes("")
    assert len(first) == len(second) == 16
    assert first != second


@pytest.mark.parametrize(
    "bad", ["abc", "AAAA", "5a1f0c9e33b84d27"], ids=["junk", "3 bytes", "8 bytes hex"]
)
def test_a_nonce_that_is_not_16_bytes_is_refused(bad: str):
    with pytest.raises(PermanentError) as raised:
        nonce_bytes(bad)
    assert raised.value.code == "WSSE_NONCE"


def test_created_is_utc_with_the_letter_z_and_no_fraction():
    assert created_text(at(2024, 3, 8, 10, 0, 0)) == "2024-03-08T02:00:00Z"
    assert created_text(dt.datetime(2024, 3, 8, 10, 0, 0, 123456)) == "2024-03-08T02:00:00Z"


def test_our_digest_equals_the_one_zeep_computes_for_a_text_nonce():
    from zeep.wsse.username import UsernameToken  # noqa: PLC0415

    created = dt.datetime(2024, 3, 8, 2, 0, 0, tzinfo=dt.UTC)
    stock = UsernameToken(
        "u",
        "Ypjg#Test2024",
        use_digest=True,
        nonce="0123456789abcdef",
        created=created,
        zulu_timestamp=True,
    )
    password, _nonce, stamp = stock._create_password_digest()
    assert stamp.text == "2024-03-08T02:00:00Z"
    assert password.text == password_digest(b"0123456789abcdef", stamp.text, "Ypjg#Test2024")


def test_a_request_carries_one_token_with_must_understand_and_its_id():
    call = CallContext(now=at(2024, 3, 8, 10), nonce="5a1f0c9e33b84d27a6e0f4519bc2d870")
    envelope = SERVICE.envelope(
        "QueryPenalties",
        token(DEMO, call),
        SinceTime=dt.datetime(2024, 3, 1),
        PageNo=1,
        PageSize=10,
    )
    security = envelope.find(f".//{{{WSSE}}}Security")
    assert security.get("{http://www.w3.org/2003/05/soap-envelope}mustUnderstand") == "true"
    [user_token] = security.findall(f"{{{WSSE}}}UsernameToken")
    assert user_token.get(f"{{{WSU}}}Id") == "UsernameToken-1"
    assert user_token.findtext(f"{{{WSSE}}}Password") == "K5UOgGMyBiqheFznv/KszRbEkx0="
    assert b"Ypjg#Test2024" not in etree.tostring(envelope)


def test_the_password_never_shows_in_the_config_repr():
    assert "Ypjg" not in repr(DEMO)
    assert "Ypjg" not in str(DEMO.model_dump())
