"""verify (HMAC over the raw bytes, README §2.3) and prepare (event checks, §2.2, §4)."""

from __future__ import annotations

import codecs
import json

import pytest

from adapters.online_hall import SPEC
from adapters.online_hall._wire import prepare, verify
from adapters.online_hall.simulator import build_push, delivery_event, license_event
from runner.adapter_api import MessageRejected, RawMessage
from tests.adapters.online_hall.samples import config, raw_of, read_http

NEW_SECRET = "n3w-Subscr1ption-Secret-0f-32-chars!"


def _rejection(fn, *args) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        fn(*args)
    return caught.value


# --- verify -----------------------------------------------------------------------------------


def test_a_sample_request_passes_the_signature_check():
    verify("license_webhook", raw_of(read_http("license_webhook-1")), config())


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="a missing signature is refused"),
        pytest.param("", id="an empty signature is refused"),
        pytest.param("not base64 at all!", id="a signature that is not base64 is refused"),
        pytest.param("AAAA", id="a signature of the wrong length is refused"),
        pytest.param(
            "HhiknFBDfCy366Ob8VU/nKTdCWdBU0kQyg78gaucAXs=",
            id="the signature of another body is refused",
        ),
    ],
)
def test_a_request_without_the_right_signature_is_unauthorized(signature: str | None):
    raw = raw_of(read_http("license_webhook-1"))
    headers = {k: v for k, v in raw.headers.items() if k != "x-hall-signature"}
    if signature is not None:
        headers["x-hall-signature"] = signature
    error = _rejection(verify, "license_webhook", RawMessage(raw.body, headers, raw.meta), config())
    assert (error.rule, error.field) == ("bad_signature", "X-Hall-Signature")


def test_one_changed_byte_of_the_body_breaks_the_signature():
    raw = raw_of(read_http("delivery_webhook-1"))
    body = raw.body.replace(b'"sdzt":"3"', b'"sdzt":"4"')
    error = _rejection(
        verify, "delivery_webhook", RawMessage(body, raw.headers, raw.meta), config()
    )
    assert error.rule == "bad_signature"


def test_the_signature_covers_the_bom_and_a_bom_request_maps():
    push = build_push(license_event(1), bom=True)
    assert push.body.startswith(codecs.BOM_UTF8)
    raw = raw_of(push)
    verify("license_webhook", raw, config())
    stripped = RawMessage(raw.body.removeprefix(codecs.BOM_UTF8), raw.headers, raw.meta)
    assert _rejection(verify, "license_webhook", stripped, config()).rule == "bad_signature"
    assert json.loads(prepare("license_webhook", raw, config()))["eventId"] == push.event_id


def test_during_a_rotation_both_secrets_are_accepted_and_others_not():
    old = raw_of(build_push(license_event(2)))
    new = raw_of(build_push(license_event(2), NEW_SECRET))
    rotating = config(NEW_SECRET, previous=config().secret.get_secret_value())
    verify("license_webhook", old, rotating)
    verify("license_webhook", new, rotating)
    assert _rejection(verify, "license_webhook", old, config(NEW_SECRET)).rule == "bad_signature"


def test_a_pushed_request_is_always_checked_even_without_any_hall_header():
    raw = RawMessage(b"{}", {}, {"method": "POST", "path": "/inbound/online_hall/licenses"})
    assert _rejection(verify, "license_webhook", raw, config()).rule == "bad_signature"


def test_the_secret_never_shows_in_the_config_repr():
    shown = repr(config()) + str(config().model_dump())
    assert config().secret.get_secret_value() not in shown


# --- prepare ----------------------------------------------------------------------------------


def _prepared(push, message: str = "license_webhook") -> dict:
    return json.loads(prepare(message, raw_of(push), config()))


def test_prepare_lowercases_keys_and_normalises_null_words_numbers_and_spaces():
    event = license_event(3, xklb=1, sqrlx=1, fddbr="NULL", xkjdswh="", sqrmc="某某公司\u3000 ")
    data = _prepared(build_push(event, upper_keys=True))["data"]
    assert set(data) == {key.lower() for key in event.data}
    assert (data["xklb"], data["sqrlx"]) == ("1", "1")
    assert (data["fddbr"], data["xkjdswh"], data["sqrmc"]) == (None, None, "某某公司")


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        pytest.param(
            {"X-Hall-Event-Id": "EVT-OTHER"},
            "eventId",
            "event_id_mismatch",
            id="an eventId that differs from its header is refused",
        ),
        pytest.param(
            {"X-Hall-Event-Type": "SDHZ"},
            "X-Hall-Event-Type",
            "unsupported_event_type",
            id="a header event type of the other path is refused",
        ),
    ],
)
def test_prepare_compares_the_body_with_its_headers(change: dict, field: str, rule: str):
    push = build_push(license_event(4))
    push = push.__class__(push.path, {**push.headers, **change}, push.body)
    error = _rejection(prepare, "license_webhook", raw_of(push), config())
    assert (error.field, error.rule) == (field, rule)


@pytest.mark.parametrize(
    "header", ["X-Hall-Event-Id", "X-Hall-Event-Type"], ids=lambda h: f"a missing {h} is refused"
)
def test_prepare_requires_both_event_headers_on_a_pushed_request(header: str):
    push = build_push(license_event(5))
    push = push.__class__(
        push.path, {k: v for k, v in push.headers.items() if k != header}, push.body
    )
    error = _rejection(prepare, "license_webhook", raw_of(push), config())
    assert (error.field, error.rule) == (header, "required")


def test_an_event_of_the_other_type_on_the_licence_path_is_refused():
    push = build_push(delivery_event(1))
    raw = raw_of(push)
    headers = {**raw.headers, "x-hall-event-type": "XKJD"}
    error = _rejection(prepare, "license_webhook", RawMessage(raw.body, headers), config())
    assert (error.field, error.rule) == ("eventType", "unsupported_event_type")


def test_an_event_id_longer_than_64_characters_is_refused():
    push = build_push(license_event(6).__class__("XKJD", "E" * 65, license_event(6).data))
    assert _rejection(prepare, "license_webhook", raw_of(push), config()).field == "eventId"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"eventId":"EVT-1","eventType":"XKJD"', id="truncated JSON"),
        pytest.param(b"\xff\xfe\x00garbage", id="bytes that are not UTF-8"),
        pytest.param(b"[1,2,3]", id="a JSON array"),
        pytest.param(b'{"eventId":NaN}', id="a NaN constant"),
        pytest.param(b'{"eventId":"a","eventId":"b"}', id="a key given twice"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="hostile nesting"),
        pytest.param(b'{"a":' * 50 + b"1" + b"}" * 50, id="deep objects"),
        pytest.param(b'{"eventId":' + b"9" * 5000 + b"}", id="an integer beyond the digit limit"),
    ],
)
def test_malformed_bodies_are_refused_without_a_traceback(body: bytes):
    raw = RawMessage(body, {}, {})
    assert _rejection(prepare, "license_webhook", raw, config()).rule == "malformed_json"


def test_a_key_of_data_given_in_two_cases_with_different_values_is_refused():
    event = license_event(7, XKZBH="OTHER-NUMBER")
    error = _rejection(prepare, "license_webhook", raw_of(build_push(event)), config())
    assert (error.field, error.rule) == ("xkzbh", "duplicate_key")


@pytest.mark.parametrize("key", ["eventId", "eventType", "pushTime", "data"])
def test_every_top_level_key_is_required(key: str):
    document = json.loads(license_event(8).body())
    del document[key]
    raw = RawMessage(json.dumps(document).encode(), {}, {})
    error = _rejection(prepare, "license_webhook", raw, config())
    assert (error.field, error.rule) == (key, "required")


def test_the_spec_serves_both_paths_with_their_message_types():
    assert {(h.method, h.path, h.message) for h in SPEC.webhooks} == {
        ("POST", "/inbound/online_hall/licenses", "license_webhook"),
        ("POST", "/inbound/online_hall/deliveries", "delivery_webhook"),
    }
    assert [m.id for m in SPEC.messages] == ["license_webhook", "delivery_webhook"]
