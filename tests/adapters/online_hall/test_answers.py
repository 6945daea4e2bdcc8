"""SPEC.answer: the bodies of README §5, byte for byte."""

from __future__ import annotations

import pytest

from adapters.online_hall import SPEC
from runner.adapter_api import MessageRejected, RawMessage, WebhookVerdict
from tests.adapters.online_hall.samples import config, raw_of, read_http


def _answer(
    verdict: WebhookVerdict, error: MessageRejected | None = None, raw: RawMessage | None = None
) -> tuple[int, bytes, str]:
    raw = raw or raw_of(read_http("license_webhook-1"))
    answer = SPEC.webhook_answer("license_webhook", raw, verdict, error, config())
    return answer.status, answer.body, answer.content_type


@pytest.mark.parametrize(
    ("verdict", "status", "body"),
    [
        ("accepted", 200, b'{"code":"0","msg":"accepted","eventId":"EVT-20240305-000812"}'),
        ("duplicate", 200, b'{"code":"0","msg":"duplicate","eventId":"EVT-20240305-000812"}'),
        ("unauthorized", 401, b'{"code":"401","msg":"bad signature"}'),
        ("unavailable", 503, b'{"code":"503","msg":"temporarily unavailable"}'),
    ],
)
def test_each_verdict_has_the_readmes_answer(verdict: WebhookVerdict, status: int, body: bytes):
    assert _answer(verdict) == (status, body, "application/json;charset=UTF-8")


def test_a_rejection_names_the_reason_and_the_wire_field():
    error = MessageRejected("x", field="payload.agency.uscc", rule="uscc_check")
    assert _answer("rejected", error)[:2] == (
        422,
        b'{"code":"422","msg":"bad USCC check character","field":"xkjgdm"}',
    )


def test_a_rejection_without_a_field_has_no_field_key():
    error = MessageRejected("not JSON", rule="malformed_json")
    assert _answer("rejected", error)[1] == b'{"code":"422","msg":"malformed JSON"}'


def test_the_event_id_comes_from_the_body_when_the_header_is_missing():
    raw = raw_of(read_http("delivery_webhook-1"))
    bare = RawMessage(raw.body, {}, raw.meta)
    assert b'"eventId":"EVT-20240305-001024"' in _answer("accepted", raw=bare)[1]
    unreadable = RawMessage(b"\xff{", {}, raw.meta)
    assert _answer("duplicate", raw=unreadable)[1] == b'{"code":"0","msg":"duplicate"}'
