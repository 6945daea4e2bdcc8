"""The hall's notifier (the simulator) against a stand-in receiver: what it sends, and how it
resends after 5xx, 429, 401, dropped connections and timeouts (README §2.4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator

import pytest

from adapters._simulators.http import Fault, HttpSimulator, Request, Response
from adapters.online_hall.simulator import (
    DEMO_SECRET,
    RESEND_SCHEDULE_S,
    USER_AGENT,
    HallNotifier,
    build_push,
    delivery_event,
    license_event,
    malformed,
)

OK = b'{"code":"0","msg":"accepted","eventId":"x"}'


def _ok(_request: Request) -> Response:
    return Response(200, OK, {"Content-Type": "application/json;charset=UTF-8"})


@pytest.fixture
def receiver() -> Iterator[HttpSimulator]:
    with HttpSimulator(_ok) as server:
        yield server


def test_a_push_carries_the_halls_headers_and_a_signature_over_the_exact_bytes(
    receiver: HttpSimulator,
):
    push = build_push(license_event(1), bom=True)
    HallNotifier(receiver.url).send(push)
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/inbound/online_hall/licenses")
    assert request.body == push.body
    assert request.body.startswith(b"\xef\xbb\xbf")
    mac = hmac.new(DEMO_SECRET.encode(), request.body, hashlib.sha256).digest()
    assert request.headers["x-hall-signature"] == base64.b64encode(mac).decode()
    assert request.headers["x-hall-event-id"] == push.event_id
    assert request.headers["x-hall-event-type"] == "XKJD"
    assert request.headers["user-agent"] == USER_AGENT


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault("status", status=503), id="a 503 page"),
        pytest.param(Fault("status", status=429, retry_after=1), id="a 429"),
        pytest.param(Fault("status", status=401, body=b"{}"), id="a 401 (secret rotation)"),
        pytest.param(Fault("drop"), id="a dropped connection"),
    ],
)
def test_a_failed_attempt_is_resent_byte_identical_until_accepted(
    receiver: HttpSimulator, fault: Fault
):
    receiver.inject(fault, times=2)
    notifier = HallNotifier(receiver.url, time_scale=0.0)
    push = build_push(delivery_event(2))
    answers = notifier.deliver(push)
    assert [a.status for a in answers][-1] == 200
    assert len(answers) == 3
    assert {r.body for r in receiver.requests} == {push.body}
    assert {r.headers["x-hall-signature"] for r in receiver.requests} == {
        push.headers["X-Hall-Signature"]
    }
    assert notifier.manual_review == []


def test_no_answer_within_the_timeout_counts_as_a_failure_and_is_resent(
    receiver: HttpSimulator,
):
    receiver.inject(Fault("delay", seconds=0.6))
    notifier = HallNotifier(receiver.url, timeout_s=0.2, time_scale=0.0)
    answers = notifier.deliver(build_push(license_event(3)))
    assert [a.error for a in answers] == ["timeout", None]
    assert answers[-1].status == 200


def test_a_422_is_final_and_goes_to_manual_review(receiver: HttpSimulator):
    receiver.inject(Fault("status", status=422, body=b'{"code":"422","msg":"malformed JSON"}'))
    notifier = HallNotifier(receiver.url, time_scale=0.0)
    push = malformed(license_event(4))
    [answer] = notifier.deliver(push)
    assert answer.status == 422
    assert notifier.manual_review == [push]


def test_when_the_schedule_runs_out_the_event_goes_to_manual_review(receiver: HttpSimulator):
    receiver.inject(Fault("status", status=503), times=len(RESEND_SCHEDULE_S) + 1)
    notifier = HallNotifier(receiver.url, time_scale=0.0)
    answers = notifier.deliver(build_push(license_event(5)))
    assert len(answers) == len(RESEND_SCHEDULE_S) + 1
    assert {a.status for a in answers} == {503}
    assert len(notifier.manual_review) == 1


def test_the_resend_schedule_is_the_readmes():
    assert RESEND_SCHEDULE_S[:6] == (60, 300, 900, 3600, 7200, 21600)
    assert sum(RESEND_SCHEDULE_S[6:]) == 3 * 24 * 3600


def test_concurrent_resends_reach_the_receiver_as_many_times(receiver: HttpSimulator):
    answers = HallNotifier(receiver.url).send_concurrently(build_push(license_event(6)), 5)
    assert [a.status for a in answers] == [200] * 5
    assert len(receiver.requests) == 5


def test_tampered_and_unsigned_pushes_differ_only_in_the_signature():
    push = build_push(license_event(7))
    assert push.tampered().body == push.body
    assert push.tampered().headers["X-Hall-Signature"] != push.headers["X-Hall-Signature"]
    assert "X-Hall-Signature" not in push.unsigned().headers
