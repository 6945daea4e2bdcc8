"""The hall pushing to the bus's real webhook endpoint over loopback (embedded broker): store,
then answer; resends and concurrent resends make one canonical message; refusals answer 401 or
422 in the hall's dialect and are dead-lettered."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.online_hall.simulator import (
    HallNotifier,
    build_push,
    delivery_event,
    license_event,
    malformed,
)
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from tests.adapters.online_hall.conftest import feed_messages
from tests.adapters.online_hall.samples import read_http


def _dead(services: Services) -> int:
    return sum(c.get("dead", 0) for c in services.dead_letters.counts().values())


def test_a_sample_request_is_accepted_and_reaches_the_feed_once_despite_a_resend(
    endpoint: str, runtime: Runtime, services: Services
):
    sample = read_http("license_webhook-1")
    headers = dict(sample.headers)
    first = httpx.post(endpoint + sample.path, content=sample.body, headers=headers)
    assert (first.status_code, first.content) == (
        200,
        b'{"code":"0","msg":"accepted","eventId":"EVT-20240305-000812"}',
    )
    resend = httpx.post(endpoint + sample.path, content=sample.body, headers=headers)
    assert resend.json() == {"code": "0", "msg": "duplicate", "eventId": "EVT-20240305-000812"}
    runtime.start()
    [message] = feed_messages(services, 1)
    assert message["source_message_id"] == "EVT-20240305-000812"
    assert message["schema"] == "enforcement.license_decision.v1"
    assert _dead(services) == 0


def test_concurrent_resends_give_one_accepted_and_one_canonical_message(
    endpoint: str, runtime: Runtime, services: Services
):
    notifier = HallNotifier(endpoint)
    push = build_push(delivery_event(4, status="3"), bom=True)
    answers = notifier.send_concurrently(push, 6)
    assert {a.status for a in answers} == {200}
    assert sorted(a.json()["msg"] for a in answers).count("accepted") == 1
    runtime.start()
    # The endpoint may store a resend that raced the first request (at-least-once); every copy
    # on the feed is the same canonical message (one message_id).
    messages = feed_messages(services, 1)
    assert {m["message_id"] for m in messages} != set()
    assert len({m["message_id"] for m in messages}) == 1
    assert {m["source_message_id"] for m in messages} == {push.event_id}
    assert len(notifier.answers) == 6


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p.tampered(), id="a wrong signature"),
        pytest.param(lambda p: p.unsigned(), id="no signature"),
    ],
)
def test_an_unsigned_or_forged_push_gets_401_and_is_dead_lettered(
    endpoint: str, services: Services, tamper
):
    answer = HallNotifier(endpoint).send(tamper(build_push(license_event(3))))
    assert (answer.status, answer.body) == (401, b'{"code":"401","msg":"bad signature"}')
    [letter] = services.dead_letters.list(status="dead", system="online_hall")
    assert letter.rule == "bad_signature"


@pytest.mark.parametrize(
    ("push", "body"),
    [
        pytest.param(
            malformed(license_event(5)),
            {"code": "422", "msg": "malformed JSON"},
            id="a cut-off body is malformed JSON",
        ),
        pytest.param(
            build_push(license_event(6, tyshxydm="91350100MA2Y7K3F62")),
            {"code": "422", "msg": "bad USCC check character", "field": "tyshxydm"},
            id="a bad USCC",
        ),
        pytest.param(
            build_push(license_event(7)).with_headers(X_Hall_Event_Id="EVT-ELSE"),
            {"code": "422", "msg": "eventId mismatch", "field": "eventId"},
            id="an eventId that differs from its header",
        ),
        pytest.param(
            build_push(license_event(8)).with_headers(X_Hall_Event_Type="SDHZ"),
            {"code": "422", "msg": "unsupported eventType", "field": "X-Hall-Event-Type"},
            id="the other event type",
        ),
    ],
)
def test_an_event_that_can_never_be_accepted_gets_422_and_no_resend(
    endpoint: str,
    services: Services,
    push,
    body: dict,
):
    notifier = HallNotifier(endpoint, time_scale=0.0)
    [answer] = notifier.deliver(push)
    assert (answer.status, answer.json()) == (422, body)
    assert notifier.manual_review == [push]
    assert _dead(services) == 1


def test_a_delivery_event_on_the_licence_path_is_refused(endpoint: str):
    push = build_push(delivery_event(1))
    wrong = push.__class__("/inbound/online_hall/licenses", push.headers, push.body)
    answer = HallNotifier(endpoint).send(wrong)
    assert answer.status == 422
    assert answer.json()["msg"] == "unsupported eventType"


def test_upper_case_keys_numbers_and_a_bom_are_accepted(
    endpoint: str, runtime: Runtime, services: Services
):
    push = build_push(license_event(9, xklb=1, sqrlx=1), upper_keys=True, bom=True)
    assert HallNotifier(endpoint).send(push).json()["msg"] == "accepted"
    runtime.start()
    [message] = feed_messages(services, 1)
    assert message["payload"]["kind"] == "general"


def test_a_body_over_the_limit_is_refused_unread(endpoint: str):
    answer = httpx.post(
        endpoint + "/inbound/online_hall/licenses", content=b"{" + b" " * 300_000 + b"}"
    )
    assert answer.status_code == 413
    assert json.loads(answer.content)


def test_a_resend_is_a_duplicate_before_its_body_is_validated(endpoint: str, services: Services):
    # README 2.4: verify, then "already stored -> 200 duplicate", then validate. The stored
    # event's resend is answered duplicate even when its body no longer validates (here a
    # USCC that fails its check, as after a change of rules between the two).
    notifier = HallNotifier(endpoint)
    first = notifier.send(build_push(license_event(3)))
    assert first.json()["msg"] == "accepted"
    changed = notifier.send(build_push(license_event(3, tyshxydm="91350100MA2Y7K3F62")))
    assert (changed.status, changed.json()["msg"]) == (200, "duplicate")
    assert _dead(services) == 0
