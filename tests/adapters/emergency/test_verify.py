"""README §2.4: the HMAC signature always; the timestamp window and nonce memory when live."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.emergency import NonceCache, Verifier
from runner.adapter_api import MessageRejected, RawMessage
from tests.adapters.emergency._support import BEIJING, CONFIG, SAMPLES, sample_headers, signed

BODY = (SAMPLES / "penalty_decision-1.xml").read_bytes()
SIGNED_AT = dt.datetime(2024, 3, 5, 10, 30, 15, tzinfo=BEIJING)


def _verifier(now: dt.datetime = SIGNED_AT) -> Verifier:
    return Verifier(clock=lambda: now, nonces=NonceCache())


def _refused(verifier: Verifier, raw: RawMessage) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        verifier("penalty_decision", raw, CONFIG)
    return caught.value


def test_every_sample_carries_a_valid_signature():
    for path in sorted(SAMPLES.glob("*.headers.json")):
        body = path.with_name(path.name.replace(".headers.json", ".xml"))
        headers, _ = sample_headers(body)
        _verifier()(
            "safety_inspection", RawMessage(body=body.read_bytes(), headers=headers), CONFIG
        )


@pytest.mark.parametrize(
    "header", ["x-yjzf-appid", "x-yjzf-timestamp", "x-yjzf-nonce", "x-yjzf-signature"]
)
def test_a_missing_header_is_refused_naming_it(header: str):
    raw = signed(BODY)
    headers = {k: v for k, v in raw.headers.items() if k != header}
    error = _refused(_verifier(), RawMessage(body=BODY, headers=headers))
    assert error.rule == "missing_header"
    assert (error.field or "").lower() == header


def test_a_changed_body_fails_the_signature():
    raw = signed(BODY)
    error = _refused(_verifier(), RawMessage(body=BODY + b" ", headers=raw.headers))
    assert error.rule == "signature_mismatch"


def test_a_wrong_secret_fails_the_signature():
    assert _refused(_verifier(), signed(BODY, secret="not-the-secret")).rule == "signature_mismatch"


def test_the_signature_is_compared_case_insensitively():
    raw = signed(BODY)
    headers = {**raw.headers, "x-yjzf-signature": raw.headers["x-yjzf-signature"].lower()}
    _verifier()("penalty_decision", RawMessage(body=BODY, headers=headers), CONFIG)


def test_an_unknown_app_id_is_refused():
    raw = signed(BODY)
    error = _refused(
        _verifier(), RawMessage(body=BODY, headers={**raw.headers, "x-yjzf-appid": "X"})
    )
    assert error.rule == "unknown_app_id"


def test_a_malformed_nonce_is_refused():
    error = _refused(_verifier(), signed(BODY, nonce="NOT-HEX-NONCE-16"))
    assert error.rule == "bad_header"


@pytest.mark.parametrize("offset_s", [301, -301, 86400])
def test_a_stale_or_future_timestamp_is_refused_on_the_live_endpoint(offset_s: int):
    verifier = _verifier(SIGNED_AT + dt.timedelta(seconds=offset_s))
    assert _refused(verifier, signed(BODY, at=SIGNED_AT, live=True)).rule == "timestamp_skew"


def test_a_timestamp_within_300_s_is_fresh():
    _verifier(SIGNED_AT + dt.timedelta(seconds=300))(
        "penalty_decision", signed(BODY, live=True), CONFIG
    )


def test_a_nonce_is_refused_the_second_time_within_15_minutes_then_forgotten():
    clock = [SIGNED_AT]
    verifier = Verifier(clock=lambda: clock[0], nonces=NonceCache())
    verifier("penalty_decision", signed(BODY, live=True), CONFIG)
    assert _refused(verifier, signed(BODY, live=True)).rule == "nonce_replayed"
    clock[0] = SIGNED_AT + dt.timedelta(minutes=16)
    later = signed(BODY, at=clock[0], live=True)
    verifier("penalty_decision", later, CONFIG)


def test_a_replay_of_a_captured_message_checks_the_signature_only():
    verifier = _verifier(SIGNED_AT + dt.timedelta(days=400))
    verifier("penalty_decision", signed(BODY), CONFIG)
    verifier("penalty_decision", signed(BODY), CONFIG)  # same nonce: not a live request


def test_a_body_over_2_mib_is_refused_before_the_signature():
    assert _refused(_verifier(), signed(b"x" * (2 * 1024 * 1024 + 1))).rule == "too_large"


def test_a_stored_request_re_verified_later_passes_but_a_second_request_does_not():
    received = SIGNED_AT + dt.timedelta(seconds=2)
    verifier = _verifier(SIGNED_AT + dt.timedelta(hours=3))
    first = signed(BODY, live=True)
    stored = RawMessage(body=BODY, headers=first.headers, meta=first.meta, received_at=received)
    verifier("penalty_decision", stored, CONFIG)
    verifier("penalty_decision", stored, CONFIG)  # a dead-letter replay of the same request
    again = RawMessage(
        body=BODY, headers=first.headers, meta=first.meta, received_at=received + dt.timedelta(1)
    )
    assert _refused(verifier, again).rule == "timestamp_skew"
    later = RawMessage(
        body=BODY,
        headers=first.headers,
        meta=first.meta,
        received_at=received + dt.timedelta(seconds=5),
    )
    assert _refused(verifier, later).rule == "nonce_replayed"
