"""README §2.3: the signature, its worked examples, and the secret kept out of sight."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from adapters.credit_fj import SPEC
from adapters.credit_fj.signing import (
    EMPTY_BODY_SHA256,
    sign_request,
    sm3_hex,
    verify_signature,
)
from adapters.credit_fj.simulator import DEMO_SECRET
from tests.adapters.credit_fj.samples import SAMPLES, call_context, config, read_http


def test_sm3_matches_the_gb_t_32905_test_vector():
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_the_empty_body_hash_is_sha256_of_zero_bytes():
    assert hashlib.sha256(b"").hexdigest() == EMPTY_BODY_SHA256


def test_worked_example_1_signs_the_get_of_subject_lookup_request_1():
    sign = sign_request(
        DEMO_SECRET,
        "GET",
        "/api/credit/v1/subjects/91350100MA2Y7K3F61",
        "1709620812345",
        "3e7a9c1b5d0f4e2a8c6b4d2f0e9a7c5b",
        b"",
    )
    assert sign == "e99ea5141e214662b62173aa99c66079faa6cd132b53434be1b264264ca754ac"


def test_worked_example_2_signs_the_post_of_penalty_push_1():
    body = (SAMPLES / "penalty_push-1.json").read_bytes()
    assert len(body) == 2752
    assert hashlib.sha256(body).hexdigest() == (
        "8e5d194f1c51c8a9fa39021c8a09960f4b6717e5973124533f5019789abf0448"
    )
    sign = sign_request(
        DEMO_SECRET,
        "post",
        "/api/sgs/v2/penalties",
        "1709620800000",
        "9b1f0c3e5a7d4e2f8c6b0a1d3e5f7a9c",
        body,
    )
    assert sign == "d61236f0a4eea5da4d4aba222c0149256a73c47ef4edafe2c3a8c14c7a3d2250"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"body": b"{}"}, id="another body"),
        pytest.param({"path": "/api/sgs/v2/licenses"}, id="another path"),
        pytest.param({"timestamp": "1709620800001"}, id="another timestamp"),
        pytest.param({"nonce": "0" * 32}, id="another nonce"),
        pytest.param({"secret": "0" * 32}, id="another secret"),
    ],
)
def test_a_signature_does_not_verify_when_any_signed_part_changes(change: dict[str, object]):
    parts: dict[str, Any] = {
        "secret": DEMO_SECRET,
        "method": "POST",
        "path": "/api/sgs/v2/penalties",
        "timestamp": "1709620800000",
        "nonce": "9b1f0c3e5a7d4e2f8c6b0a1d3e5f7a9c",
        "body": b'{"batchNo":"X"}',
    }
    sign = sign_request(**parts)
    assert verify_signature(**parts, sign=sign)
    assert not verify_signature(**(parts | change), sign=sign)


def test_the_secret_appears_neither_in_the_config_repr_nor_in_the_framed_call():
    settings = config()
    sample = read_http("subject_lookup_request-1")
    document = b'{"uscc":"91350100MA2Y7K3F61"}'
    call = SPEC.outgoing("subject_lookup_request", document, settings, call_context(sample))
    shown = repr(settings) + str(settings.model_dump()) + repr(call)
    assert DEMO_SECRET not in shown
    assert "**********" in repr(settings)
