"""Over loopback: calls framed by the adapter, sent through the shared HTTP transport to the
simulator, answers mapped to delivery outcomes (README §2, §3, §6)."""

from __future__ import annotations

import threading
from contextlib import closing
from typing import Any

import pytest

from adapters._simulators.http import Fault
from adapters.two_laws import SPEC, TwoLawsConfig, frame, open_transport
from adapters.two_laws.simulator import TwoLawsSimulator
from runner.adapter_api import CallContext, MessageRejected, TransientError
from runner.dryrun import render_message
from schemas.identifiers import uscc_check_char
from tests.adapters.two_laws._support import PROJECT, sample_json
from tests.adapters.two_laws.conftest import Clock, make_config


def _deliver(
    simulator: TwoLawsSimulator, clock: Clock, item: dict[str, Any], **overrides: object
) -> dict[str, Any]:
    """Render and frame ``item`` at the clock's time, send it, map the answer to an outcome."""
    config = make_config(simulator, **overrides)
    call = render_message(
        PROJECT, "two_laws", "submit_case", [item], {"now": clock.now.isoformat()}
    )
    call = SPEC.outgoing("submit_case", _document(call.body), config, CallContext(now=clock.now))
    return _outcome(config, call)


def _document(envelope: bytes) -> bytes:
    """The operation element of an envelope without its namespace (what the mapping renders)."""
    from lxml import etree  # noqa: PLC0415

    root = etree.fromstring(envelope)
    operation = root.find(".//{http://lfxj.fjjcy.gov.cn/exchange/v3}submitCaseInfo")
    assert operation is not None
    for node in operation.iter():
        node.tag = etree.QName(node).localname
    etree.cleanup_namespaces(operation)
    return etree.tostring(operation)


def _outcome(config: TwoLawsConfig, call: Any) -> dict[str, Any]:
    with closing(open_transport(config)) as transport:
        answer = transport.send(call)
    body = SPEC.inbound("submit_case_response", answer, config)
    result = PROJECT.inbound_mapping("two_laws", "submit_case_response").apply(body)
    assert result.outcome is not None
    return result.outcome.model_dump(mode="json")


def _case() -> dict[str, Any]:
    return sample_json("submit_case-1.input.json")


def test_a_new_case_is_stored_and_answered_with_the_platforms_case_number(simulator, clock):
    got = _deliver(simulator, clock, _case())
    assert got["outcome"] == "complete"
    assert got["records"] == [
        {"index": 0, "status": "accepted", "record_id": "LF350500202400001", "code": "0"}
    ]
    stored = simulator.submissions["FJ3505002024SC7556C67D"]
    assert (stored.info_type, stored.values["zsbz"], stored.values["zsbl"]) == ("01", "2", "84.00")


def test_a_resent_case_is_an_update_answered_1_with_the_same_case_number(simulator, clock):
    first = _deliver(simulator, clock, _case())
    again = _deliver(simulator, clock, _case())
    assert (again["outcome"], again["code"]) == ("complete", "1")
    assert again["records"][0]["record_id"] == first["records"][0]["record_id"]
    assert simulator.submissions["FJ3505002024SC7556C67D"].times == 2


def test_a_status_delta_keeps_what_it_omits_and_updates_the_status(simulator, clock):
    _deliver(simulator, clock, sample_json("submit_case-2.input.json"))
    got = _deliver(simulator, clock, sample_json("submit_case-3.input.json"))
    assert (got["outcome"], got["code"]) == ("complete", "1")
    stored = simulator.submissions["YS-350200-2024-0009"]
    assert (stored.info_type, stored.values["yszt"]) == ("02", "40")
    assert stored.values["ysjgmc"] == "厦门市生态环境局"
    assert "厦公(环)立告字" in str(stored.values["wsList"])


def test_a_delta_for_an_unknown_transfer_is_stored_as_a_skeleton(simulator, clock):
    got = _deliver(simulator, clock, sample_json("submit_case-3.input.json"))
    assert (got["outcome"], got["code"]) == ("complete", "0")
    assert simulator.submissions["YS-350200-2024-0009"].info_type == "03"


@pytest.mark.parametrize(
    ("overrides", "code", "outcome"),
    [
        pytest.param({"password": "wrong"}, "1001", "batch_failed", id="a wrong password"),
        pytest.param({"user_name": "OTHER"}, "1001", "batch_failed", id="an unknown account"),
    ],
)
def test_an_unauthenticated_call_is_refused(simulator, clock, overrides, code, outcome):
    got = _deliver(simulator, clock, _case(), **overrides)
    assert (got["outcome"], got["code"]) == (outcome, code)
    assert simulator.submissions == {}


def test_a_timestamp_eleven_minutes_off_is_retried_with_a_new_one(simulator, clock):
    config = make_config(simulator)
    call = render_message(
        PROJECT, "two_laws", "submit_case", [_case()], {"now": "2024-03-15T07:49:00+08:00"}
    )
    got = _outcome(config, call)
    assert (got["outcome"], got["code"]) == ("batch_retry", "1002")


def test_an_agency_outside_fujian_is_refused_with_1003(simulator, clock):
    item = _case()
    code = "11110000MB0P66125"
    item["payload"]["agency"]["uscc"] = code + uscc_check_char(code)
    item["payload"]["agency"]["division_code"] = "110000"
    got = _deliver(simulator, clock, item)
    assert (got["outcome"], got["code"]) == ("batch_failed", "1003")


def test_a_code_the_platform_does_not_know_is_refused_with_2002(simulator, clock):
    config = make_config(simulator)
    call = render_message(
        PROJECT, "two_laws", "submit_case", [_case()], {"now": clock.now.isoformat()}
    )
    document = _document(call.body).replace(b"<lydm>SCJG</lydm>", b"<lydm>SCXX</lydm>")
    got = _outcome(config, frame("submit_case", document, config, CallContext(now=clock.now)))
    assert (got["outcome"], got["code"]) == ("batch_failed", "2002")


@pytest.mark.parametrize(
    ("kind", "code", "outcome"),
    [
        pytest.param("busy", "9001", "batch_retry", id="系统繁忙"),
        pytest.param("maintenance", "9002", "batch_retry", id="数据库维护中"),
        pytest.param("server_fault", "FAULT:Server", "batch_retry", id="a Server fault"),
        pytest.param("client_fault", "FAULT:Client", "batch_failed", id="a Client fault"),
    ],
)
def test_an_injected_error_answer_gives_its_outcome(simulator, clock, kind, code, outcome):
    simulator.inject_soap(kind, operation="submitCaseInfo")
    got = _deliver(simulator, clock, _case())
    assert (got["outcome"], got["code"], got["records"]) == (outcome, code, [])
    assert _deliver(simulator, clock, _case())["outcome"] == "complete"


def test_calls_over_the_rate_limit_get_a_server_fault(clock):
    with TwoLawsSimulator(clock=clock, rate_limit=2) as simulator:
        outcomes = [_deliver(simulator, clock, _case())["code"] for _ in range(3)]
    assert outcomes == ["0", "1", "FAULT:Server"]


@pytest.mark.parametrize(
    ("fault", "rule"),
    [
        pytest.param(Fault("status", status=503, retry_after=30), "not_soap", id="an HTML 503"),
        pytest.param(Fault("malformed", body=b"<soap:Envelope"), "malformed_xml", id="cut short"),
    ],
)
def test_an_answer_that_is_not_a_soap_answer_is_refused(simulator, clock, fault, rule):
    simulator.inject(fault)
    with pytest.raises(MessageRejected) as caught:
        _deliver(simulator, clock, _case())
    assert caught.value.rule == rule


def test_a_dtd_in_the_answer_is_refused(simulator, clock):
    simulator.inject_soap("dtd", operation="submitCaseInfo")
    with pytest.raises(MessageRejected) as caught:
        _deliver(simulator, clock, _case())
    assert caught.value.rule == "xml_dtd"


def test_a_slow_platform_times_out_as_a_transient_error(simulator, clock):
    simulator.inject(Fault("delay", seconds=0.5))
    with pytest.raises(TransientError) as caught:
        _deliver(simulator, clock, _case(), read_timeout_s=0.1)
    assert caught.value.code == "TIMEOUT"


def test_the_wsdl_is_served_at_the_endpoint_with_its_own_address(simulator):
    import httpx  # noqa: PLC0415

    with httpx.Client() as client:
        answer = client.get(simulator.endpoint + "?wsdl")
    assert answer.status_code == 200
    assert f'location="{simulator.endpoint}"'.encode() in answer.content


def _answers_of_a_burst(config: TwoLawsConfig, call: Any, workers: int, each: int) -> list[Any]:
    """``each`` sends of ``call`` by each of ``workers`` threads, each on its own connection."""
    answers: list[Any] = []

    def work() -> None:
        with closing(open_transport(config)) as transport:
            answers.extend(transport.send(call) for _ in range(each))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def _codes_of_a_burst(simulator, clock, **overrides: object) -> list[str]:
    config = make_config(simulator, **overrides)
    item = render_message(
        PROJECT, "two_laws", "submit_case", [_case()], {"now": clock.now.isoformat()}
    )
    call = SPEC.outgoing("submit_case", _document(item.body), config, CallContext(now=clock.now))
    codes = []
    for answer in _answers_of_a_burst(config, call, workers=3, each=15):
        body = SPEC.inbound("submit_case_response", answer, config)
        result = PROJECT.inbound_mapping("two_laws", "submit_case_response").apply(body)
        assert result.outcome is not None
        codes.append(result.outcome.code)
    return codes


def test_a_burst_of_three_workers_unpaced_is_refused_as_too_frequent(simulator, clock):
    assert "FAULT:Server" in _codes_of_a_burst(simulator, clock, rate_limit=None)


def test_three_workers_share_the_accounts_pace_and_stay_under_20_calls_a_second(simulator, clock):
    codes = _codes_of_a_burst(simulator, clock)
    assert len(codes) == 45
    assert set(codes) == {"0", "1"}  # stored, then updated: never "访问频率超限"
