"""The adapter against the service simulator over loopback: calls rendered and framed by the
adapter, sent with the shared transport (``SPEC.connect``), answers mapped to outcomes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from adapters._simulators.http import Fault
from adapters._transports.soap import transport_for
from adapters.ip_supervision import SPEC, SupervisionConnection, open_connection, read_call
from adapters.ip_supervision import upload_request as signed_upload
from adapters.ip_supervision.simulator import PATH, SupervisionSimulator
from runner.adapter_api import MessageRejected, Outgoing, RawMessage, TransientError
from runner.dryrun import render_message
from schemas import DeliveryOutcome
from schemas.timeutil import SHANGHAI
from tests.adapters.ip_supervision._support import (
    PROJECT,
    config,
    envelope,
    facts,
    inputs,
    mapped,
    sample,
)

MARCH_5 = dt.datetime(2024, 3, 5, 10, 15, tzinfo=SHANGHAI)


class Clock:
    """The simulator's server time, settable."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MARCH_5)


@pytest.fixture
def service(clock: Clock) -> Iterator[SupervisionSimulator]:
    with SupervisionSimulator(clock=clock) as simulator:
        yield simulator


def _connect(simulator: SupervisionSimulator, **overrides: Any) -> SupervisionConnection:
    connection = SPEC.connect(config(simulator.endpoint, **overrides)) if SPEC.connect else None
    assert isinstance(connection, SupervisionConnection)
    return connection


def _call(stem: str, items: list[dict[str, Any]] | None = None, **fact: str) -> Outgoing:
    message = stem.rsplit("-", 1)[0]
    return render_message(PROJECT, "ip_supervision", message, items or inputs(stem), fact)


def _send(simulator: SupervisionSimulator, call: Outgoing, **overrides: Any) -> RawMessage:
    with closing(_connect(simulator, **overrides)) as connection:
        return connection.send(call)


def _outcome(answer: RawMessage) -> DeliveryOutcome:
    result = mapped(answer).outcome
    assert result is not None
    return result


def _now(at: dt.datetime) -> str:
    return at.isoformat()


def test_a_framed_upload_is_stored_and_maps_to_the_sample_outcome(service):
    answer = _send(service, _call("upload_inspection-1", **facts("upload_inspection-1")))
    assert _outcome(answer).model_dump(mode="json") == json.loads(
        sample("upload_response-1.expected.json")
    )
    [call] = service.calls
    assert call.params["xmlData"].encode("gbk") == sample("upload_inspection-1.xmlData.xml")
    [stored] = service.store.values()
    assert stored.fields["JCDXMC"] == "沙县金山小吃餐饮管理有限公司"


def test_a_rare_character_reaches_the_service_as_the_character(clock, service):
    clock.now = dt.datetime(2024, 3, 7, 17, 0, tzinfo=SHANGHAI)
    answer = _send(service, _call("upload_inspection-2", **facts("upload_inspection-2")))
    assert _outcome(answer).outcome == "complete"
    names = {s.fields["XWBH"]: s.fields["JCDXMC"] for s in service.store.values()}
    assert names["JC3509822024030700107"] == "林䶮清"


def test_uploading_the_same_records_again_is_an_update_and_still_complete(service):
    first = _outcome(_send(service, _call("upload_penalty-1", now=_now(MARCH_5))))
    again = _outcome(_send(service, _call("upload_penalty-1", now=_now(MARCH_5))))
    assert [r.code for r in first.records] == ["0", "0"]
    assert (again.outcome, [r.code for r in again.records]) == ("complete", ["1", "1"])
    assert len(service.store) == 2


def test_a_retired_catalogue_code_rejects_that_record_only(clock):
    with SupervisionSimulator(clock=clock, retired=frozenset({"350000SCCF021031"})) as simulator:
        _send(simulator, _call("upload_penalty-1", now=_now(MARCH_5)))
        answer = _send(simulator, _call("upload_penalty-1", now=_now(MARCH_5)))
    got = _outcome(answer).model_dump(mode="json")
    assert got == json.loads(sample("upload_response-2.expected.json"))


def test_a_wrong_secret_maps_to_the_signature_error(clock):
    with SupervisionSimulator(clock=clock, app_secret="0" * 32) as simulator:
        answer = _send(simulator, _call("upload_inspection-1", now=_now(MARCH_5)))
        assert simulator.store == {}
    assert _outcome(answer).model_dump(mode="json") == json.loads(
        sample("upload_response-3.expected.json")
    )


def test_a_call_signed_more_than_300_seconds_off_the_server_clock_is_retried(service):
    late = MARCH_5 + dt.timedelta(seconds=301)
    got = _outcome(_send(service, _call("upload_inspection-1", now=_now(late))))
    assert (got.outcome, got.code) == ("batch_retry", "E003")
    on_time = MARCH_5 + dt.timedelta(seconds=300)
    assert _outcome(_send(service, _call("upload_inspection-1", now=_now(on_time)))).code == "0"


def test_a_nonce_sent_twice_is_refused_by_the_service(service):
    call = _call("upload_inspection-1", **facts("upload_inspection-1"))
    with closing(transport_for("t", service.endpoint, connect_timeout_s=5, read_timeout_s=5)) as t:
        first, second = t.send(call), t.send(call)
    assert _outcome(first).code == "0"
    assert (_outcome(second).outcome, _outcome(second).code) == ("batch_retry", "E008")


def test_the_connection_signs_a_resent_call_afresh_so_its_nonce_is_never_reused(clock, service):
    call = _call("upload_inspection-1", **facts("upload_inspection-1"))
    settings = config(service.endpoint)
    transport = transport_for("t", service.endpoint, connect_timeout_s=5, read_timeout_s=5)
    with closing(SupervisionConnection(settings, transport, clock)) as connection:
        first, again = connection.send(call), connection.send(call)
    assert (_outcome(first).code, _outcome(again).code) == ("0", "0")
    nonces = [c.headers["AuthHeader"]["nonce"] for c in service.calls]
    assert len(set(nonces)) == 2
    assert _outcome(again).records[0].code == "1"


def test_the_connection_reports_the_xwbh_sent_so_a_missing_record_is_retried(service):
    service.inject_soap("omit_last")
    answer = _send(service, _call("upload_penalty-1", now=_now(MARCH_5)))
    assert json.loads(answer.meta["sent_xwbh"]) == [
        "榕市监处罚〔2024〕317号",
        "沙市监处罚〔2024〕45号",
    ]
    got = _outcome(answer)
    assert got.outcome == "partial"
    assert (got.records[1].status, got.records[1].record_id) == ("retry", "沙市监处罚〔2024〕45号")


def test_a_record_that_failed_to_store_is_retried_and_accepted_when_resent(service):
    service.fail_record("沙市监处罚〔2024〕45号", "R09")
    first = _outcome(_send(service, _call("upload_penalty-1", now=_now(MARCH_5))))
    assert [r.status for r in first.records] == ["accepted", "retry"]
    again = _outcome(_send(service, _call("upload_penalty-1", now=_now(MARCH_5))))
    assert again.outcome == "complete"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param("maintenance", ("batch_retry", "FAULT:Server"), id="maintenance Fault"),
        pytest.param("busy", ("batch_retry", "E999"), id="E999 busy"),
        pytest.param("rate_limited", ("batch_retry", "HTTP503"), id="load balancer 503"),
    ],
)
def test_a_transient_service_fault_maps_to_batch_retry_and_the_resend_succeeds(
    service, fault, expected
):
    service.inject_soap(fault)
    got = _outcome(_send(service, _call("upload_inspection-1", now=_now(MARCH_5))))
    assert (got.outcome, got.code, got.records) == (*expected, [])
    assert _outcome(_send(service, _call("upload_inspection-1", now=_now(MARCH_5)))).code == "0"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"node": "B"}, id="node B answers GBK"),
        pytest.param({"node": "A_bom"}, id="node A behind the F5 answers with a BOM"),
        pytest.param({"prefix": "ns1", "pad": True, "reverse": True}, id="ns1, padded, unordered"),
    ],
)
def test_answers_of_every_node_map_to_the_same_outcome(clock, options):
    with SupervisionSimulator(clock=clock, **options) as simulator:
        answer = _send(simulator, _call("upload_penalty-1", now=_now(MARCH_5)))
    got = _outcome(answer)
    assert (got.outcome, [r.index for r in got.records], [r.code for r in got.records]) == (
        "complete",
        [0, 1],
        ["0", "0"],
    )


@pytest.mark.parametrize(
    ("inject", "rule"),
    [
        pytest.param(lambda s: s.inject_soap("duplicate_seq"), "record_seq_twice", id="dup seq"),
        pytest.param(lambda s: s.inject_soap("dtd"), "xml_dtd", id="a DTD"),
        pytest.param(lambda s: s.inject(Fault("malformed")), "malformed_xml", id="malformed"),
    ],
)
def test_an_answer_that_cannot_be_matched_is_rejected_so_the_whole_call_is_resent(
    service, inject, rule
):
    inject(service)
    answer = _send(service, _call("upload_penalty-1", now=_now(MARCH_5)))
    with pytest.raises(MessageRejected) as caught:
        mapped(answer)
    assert caught.value.rule == rule


def test_a_service_slower_than_the_read_timeout_is_a_transient_error(service):
    service.inject(Fault("delay", seconds=0.5))
    with pytest.raises(TransientError) as caught:
        _send(service, _call("upload_inspection-1", now=_now(MARCH_5)), read_timeout_s=0.1)
    assert caught.value.code == "TIMEOUT"


def test_a_dropped_connection_is_a_transient_error(service):
    service.inject(Fault("drop"))
    with pytest.raises(TransientError):
        _send(service, _call("upload_inspection-1", now=_now(MARCH_5)))


def test_a_raw_character_outside_gbk_fails_the_whole_call_with_e005(service):
    xml_data = (
        '<?xml version="1.0" encoding="GBK"?>\n<JGXW><HEAD><APPID>FJMZF0001</APPID>'
        "<DATATYPE>XZJC</DATATYPE><RECORDCOUNT>0</RECORDCOUNT><SENDTIME>20240305101500"
        "</SENDTIME></HEAD><BODY><X>林䶮清</X></BODY></JGXW>"
    )
    call = signed_upload(config(service.endpoint), "XZJC", xml_data, "20240305101500", "a" * 32)
    got = _outcome(_send(service, call))
    assert (got.outcome, got.code) == ("batch_failed", "E005")


def test_a_recordcount_that_does_not_match_the_records_is_e007(service):
    call = _call("upload_inspection-1", now=_now(MARCH_5))
    fields = read_call(call.body)
    xml_data = fields["xmlData"].replace("<RECORDCOUNT>1<", "<RECORDCOUNT>2<")
    resent = signed_upload(
        config(service.endpoint), "XZJC", xml_data, fields["timestamp"], "b" * 32
    )
    assert _outcome(_send(service, resent)).code == "E007"


def test_an_envelope_with_qualified_children_gets_a_client_fault(service):
    call = _call("upload_inspection-1", now=_now(MARCH_5))
    body = call.body.replace(
        b"<appId>", b'<appId xmlns="http://hlwjg.fujian.gov.cn/supervision/ws">'
    )
    answer = _send(service, Outgoing(body, call.headers, call.method, call.path))
    got = _outcome(answer)
    assert (answer.meta["status"], got.outcome, got.code) == ("500", "batch_failed", "FAULT:Client")


def test_the_connection_keeps_to_five_calls_a_second_where_a_burst_gets_503(clock):
    with SupervisionSimulator(clock=clock) as simulator:
        raw = transport_for("t", simulator.endpoint, connect_timeout_s=5, read_timeout_s=5)
        with closing(raw):
            burst = [raw.send(_call("upload_inspection-1", now=_now(MARCH_5))) for _ in range(6)]
        assert [a.meta["status"] for a in burst].count("503") >= 1
    with SupervisionSimulator(clock=clock) as simulator, closing(_connect(simulator)) as paced:
        answers = [paced.send(_call("upload_inspection-1", now=_now(MARCH_5))) for _ in range(6)]
    assert [a.meta["status"] for a in answers] == ["200"] * 6


def test_the_wsdl_is_served_with_the_simulators_address(service):
    response = httpx.get(service.wsdl_url)
    assert response.status_code == 200
    assert f'location="{service.endpoint}"'.encode() in response.content
    assert service.endpoint.endswith(PATH)


def test_open_connection_is_the_spec_connector():
    assert SPEC.connect is open_connection
    assert envelope("upload_inspection-1")["schema"] == "enforcement.inspection.v1"


def test_the_answer_as_the_delivery_worker_sees_it_maps_through_the_adapters_hooks(service):
    service.inject_soap("omit_last")
    answer = _send(service, _call("upload_penalty-1", now=_now(MARCH_5)))
    worker_view = RawMessage(answer.body, answer.headers, {**answer.meta, "records": "2"})
    mapping = PROJECT.inbound_mapping("ip_supervision", "upload_response")
    result = mapping.apply(SPEC.inbound("upload_response", worker_view, config()))
    assert result.outcome is not None
    assert [(r.status, r.record_id) for r in result.outcome.records] == [
        ("accepted", "榕市监处罚〔2024〕317号"),
        ("retry", "沙市监处罚〔2024〕45号"),
    ]
