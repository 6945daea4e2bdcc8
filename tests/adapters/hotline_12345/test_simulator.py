"""The adapter against the platform simulator over loopback HTTP: render, frame, send through
the shared HTTP transport behind the rate-limit gate, map the answer (README §2, §2.2, §4, §7)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from adapters._simulators.http import Fault
from adapters._transports.http import HttpTransport
from adapters.hotline_12345 import SPEC
from adapters.hotline_12345.simulator import busy, gateway_page, rate_limited
from adapters.hotline_12345.transport import open_transport
from runner.adapter_api import CallContext, MessageRejected, Outgoing, RawMessage, TransientError
from runner.dryrun import map_message, parse_now, render_message
from tests.adapters.hotline_12345.conftest import Live
from tests.adapters.hotline_12345.samples import PROJECT, config, envelope, work_order

ORDER = "GD202503140001187"


def _call(message: str, item: dict[str, Any]) -> Outgoing:
    return render_message(PROJECT, "hotline_12345", message, [item], {})


def _outcome(message: str, answer: RawMessage) -> dict[str, Any]:
    result = map_message(PROJECT, "hotline_12345", f"{message}_response", answer)
    assert result.outcome is not None
    return result.outcome.model_dump(mode="json")


def _send(live: Live, message: str, item: dict[str, Any]) -> dict[str, Any]:
    return _outcome(message, live.connection.send(_call(message, item)))


def _dispatched(live: Live) -> None:
    live.platform.dispatch(work_order(0))
    live.platform.dispatch(work_order(1))


def test_an_accept_over_loopback_is_complete_with_the_work_order_as_record_id(live: Live):
    _dispatched(live)
    outcome = _send(live, "accept", envelope("accept-2"))
    assert outcome == {
        "outcome": "complete",
        "code": "0000",
        "retry_after_s": None,
        "records": [{"index": 0, "status": "accepted", "record_id": ORDER, "code": "0000"}],
    }
    assert (ORDER, 1) in live.platform.accepted


def test_the_platform_receives_the_sample_bytes_and_echoes_the_request_id(live: Live):
    _dispatched(live)
    answer = live.connection.send(_call("accept", envelope("accept-2")))
    received = live.simulator.requests[-1]
    assert received.body == _call("accept", envelope("accept-2")).body
    assert received.headers["authorization"] == "Bearer fj12345_test_7Qm2xR9vL4kP8sT1"
    assert answer.headers["x-request-id"] == "GD202503140001187#1/accept"


def test_an_accept_sent_twice_is_a_success_the_second_time_too(live: Live):
    _dispatched(live)
    _send(live, "accept", envelope("accept-2"))
    again = _send(live, "accept", envelope("accept-2"))
    assert (again["outcome"], again["code"]) == ("complete", "2003")
    assert again["records"][0]["record_id"] == ORDER
    assert len(live.platform.accepted) == 1


def test_a_feedback_sent_twice_is_a_success_the_second_time_too(live: Live):
    _dispatched(live)
    first = _send(live, "feedback", envelope("feedback-2"))
    again = _send(live, "feedback", envelope("feedback-2"))
    assert (first["code"], again["outcome"], again["code"]) == ("0000", "complete", "2004")
    assert live.platform.feedback[ORDER]["BJJG"] == "03"


def test_a_feedback_with_a_case_opened_carries_ajbsm_to_the_platform(live: Live):
    live.platform.dispatch(work_order(0, "workorders_page-1"))
    assert _send(live, "feedback", envelope("feedback-1"))["outcome"] == "complete"
    assert live.platform.feedback["GD202503110004521"]["AJBSM"] == "FJ3501022025SC96F2CFF9"


def test_an_accept_of_a_re_dispatched_order_fails_for_good(live: Live):
    _dispatched(live)
    live.platform.reassigned.add((ORDER, 1))
    outcome = _send(live, "accept", envelope("accept-2"))
    assert (outcome["outcome"], outcome["code"], outcome["records"]) == ("batch_failed", "2005", [])


def test_an_accept_of_an_unknown_order_fails_for_good(live: Live):
    outcome = _send(live, "accept", envelope("accept-2"))
    assert (outcome["outcome"], outcome["code"]) == ("batch_failed", "2001")


def test_an_accept_of_another_subscribers_order_fails_for_good(live: Live):
    _dispatched(live)
    live.platform.foreign.add(ORDER)
    assert _send(live, "accept", envelope("accept-2"))["code"] == "1102"


def test_the_platform_refuses_short_findings_with_2006_even_if_the_bus_let_them_pass(live: Live):
    _dispatched(live)
    body = json.loads(_call("feedback", envelope("feedback-2")).body) | {"CLCS": "已处理。"}
    document = {"gdbh": ORDER, "request_id": "JC-1/feedback", "body": body}
    raw = json.dumps(document, ensure_ascii=False).encode()
    call = SPEC.outgoing("feedback", raw, config(), CallContext(now=parse_now(None)))
    outcome = _outcome("feedback", live.connection.send(call))
    assert (outcome["outcome"], outcome["code"]) == ("batch_failed", "2006")


def test_a_wrong_api_key_fails_for_good(live: Live):
    _dispatched(live)
    other = config(live.simulator.url, api_key="fj12345_test_AAAAAAAAAAAAAAAAA")
    connection = open_transport(other, live.gate)
    try:
        call = render_message(PROJECT, "hotline_12345", "accept", [envelope("accept-2")], {})
        framed = SPEC.outgoing(
            "accept", _body_document(call), other, CallContext(now=parse_now(None))
        )
        outcome = _outcome("accept", connection.send(framed))
    finally:
        connection.close()
    assert (outcome["outcome"], outcome["code"]) == ("batch_failed", "1101")


def _body_document(call: Outgoing) -> bytes:
    gdbh = call.path.split("/")[-2]
    document = {
        "gdbh": gdbh,
        "request_id": call.headers["X-Request-Id"],
        "body": json.loads(call.body),
    }
    return json.dumps(document, ensure_ascii=False).encode()


# --- faults -------------------------------------------------------------------------------------


def test_a_429_is_retried_after_retry_after_and_no_request_goes_out_before(live: Live):
    _dispatched(live)
    live.simulator.inject(rate_limited(7))
    call = _call("accept", envelope("accept-2"))
    outcome = _outcome("accept", live.connection.send(call))
    assert (outcome["outcome"], outcome["code"], outcome["retry_after_s"]) == (
        "batch_retry",
        "1429",
        7,
    )
    sent = live.requests()
    live.clock.now += 6
    for other in (call, _call("feedback", envelope("feedback-2"))):
        with pytest.raises(TransientError) as caught:
            live.connection.send(other)
        assert caught.value.retry_after == pytest.approx(1.0)
    assert live.requests() == sent  # not one request with the key while it waits
    live.clock.now += 1
    assert _outcome("accept", live.connection.send(call))["outcome"] == "complete"
    assert live.simulator.requests[-1].body == call.body  # the refused request, unchanged


def test_the_platforms_own_rate_limit_answers_429_and_closes_the_gate(live: Live):
    _dispatched(live)
    live.platform.per_second = 1
    first = live.connection.send(_call("accept", envelope("accept-2")))
    second = live.connection.send(_call("feedback", envelope("feedback-2")))
    assert (first.meta["status"], second.meta["status"]) == ("200", "429")
    assert 1 <= int(second.headers["retry-after"]) <= 120
    assert live.gate.wait_s(live.connection._key) > 0


def test_a_locked_key_1103_waits_ten_minutes(live: Live):
    _dispatched(live)
    live.platform.per_second, live.platform.lock_after = 1, 0
    live.connection.send(_call("accept", envelope("accept-2")))
    answer = live.connection.send(_call("feedback", envelope("feedback-2")))
    outcome = _outcome("feedback", answer)
    assert (outcome["outcome"], outcome["code"], outcome["retry_after_s"]) == (
        "batch_retry",
        "1103",
        600,
    )
    assert live.gate.wait_s(live.connection._key) == pytest.approx(600)


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (gateway_page(502), "HTTP502"),
        (gateway_page(503), "HTTP503"),
        (gateway_page(504), "HTTP504"),
        (busy(500), "9999"),
        (busy(200), "9999"),
    ],
    ids=["gateway 502", "gateway 503", "gateway timeout 504", "busy 500", "busy with HTTP 200"],
)
def test_a_transient_platform_fault_is_a_batch_retry(live: Live, fault: Fault, code: str):
    _dispatched(live)
    live.simulator.inject(fault)
    outcome = _send(live, "accept", envelope("accept-2"))
    assert (outcome["outcome"], outcome["code"], outcome["records"]) == ("batch_retry", code, [])
    assert _send(live, "accept", envelope("accept-2"))["outcome"] == "complete"


def test_a_dropped_connection_is_a_transient_error(live: Live):
    live.simulator.inject(Fault(kind="drop"))
    with pytest.raises(TransientError):
        live.connection.send(_call("accept", envelope("accept-2")))


def test_an_answer_slower_than_the_read_timeout_is_a_transient_timeout(live: Live):
    slow = open_transport(config(live.simulator.url, read_timeout_s=0.2), live.gate)
    live.simulator.inject(Fault(kind="delay", seconds=0.6))
    try:
        with pytest.raises(TransientError) as caught:
            slow.send(_call("accept", envelope("accept-2")))
    finally:
        slow.close()
    assert caught.value.code == "TIMEOUT"


def test_a_malformed_answer_is_rejected_so_the_call_is_sent_again(live: Live):
    live.simulator.inject(Fault(kind="malformed", body=b'{"code":'))
    answer = live.connection.send(_call("accept", envelope("accept-2")))
    with pytest.raises(MessageRejected) as caught:
        _outcome("accept", answer)
    assert caught.value.rule == "malformed_json"


def _burst(connections: list[Any], call: Outgoing, each: int) -> list[str]:
    """``each`` calls on every connection at once, one thread per connection: the statuses."""
    statuses: list[str] = []

    def run(connection: Any) -> None:
        for _ in range(each):
            statuses.append(connection.send(call).meta["status"])

    threads = [threading.Thread(target=run, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_a_burst_of_three_connections_unpaced_meets_the_platforms_429(live: Live):
    _dispatched(live)
    live.platform.lock_after = 1000  # count refusals only; no locked key
    raw = HttpTransport("hotline_12345", live.simulator.url)
    try:
        statuses = _burst([raw, raw, raw], _call("accept", envelope("accept-2")), 9)
    finally:
        raw.close()
    assert "429" in statuses  # 27 calls at once: above the platform's 20 a second


def test_three_connections_of_one_key_share_its_pace_and_meet_no_429(live: Live):
    _dispatched(live)
    others = [open_transport(config(live.simulator.url), live.gate) for _ in range(2)]
    try:
        statuses = _burst([live.connection, *others], _call("accept", envelope("accept-2")), 9)
    finally:
        for connection in others:
            connection.close()
    assert len(statuses) == 27
    assert set(statuses) == {"200", "409"}  # accepted once, then "already accepted" (2003)
