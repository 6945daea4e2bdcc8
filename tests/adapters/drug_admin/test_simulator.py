"""The simulator behaves as the spec says: WSDL, UsernameToken checks, limits, answers (§2, §5)."""

from __future__ import annotations

import datetime as dt
from contextlib import closing

import httpx
import pytest
from lxml import etree

from adapters._simulators.http import Fault
from adapters._transports.http import HttpTransport
from adapters.drug_admin import DrugAdminConfig, open_transport, query_request
from adapters.drug_admin.simulator import INTERNAL_ADDRESS, DrugAdminSimulator
from runner.adapter_api import CallContext, RawMessage, TransientError
from tests.adapters.drug_admin._support import Clock, at, make_config, mapped, sample


def _query(
    transport: HttpTransport,
    config: DrugAdminConfig,
    now: dt.datetime,
    *,
    message: str = "query_inspections",
    nonce: str = "",
    since: dt.datetime | None = None,
    page_size: int = 100,
) -> RawMessage:
    call = CallContext(now=now, nonce=nonce)
    request = query_request(message, config, call, since or at(2024, 3, 5), 1, page_size)
    return transport.send(request)


def _error_code(raw: RawMessage) -> str:
    return etree.fromstring(raw.body).findtext(".//{*}ErrorCode") or ""


def test_the_wsdl_names_the_internal_address_which_the_adapter_never_uses(simulator):
    wsdl = httpx.get(simulator.wsdl_url).content
    assert INTERNAL_ADDRESS.encode() in wsdl
    assert simulator.http.url.encode() not in wsdl


def test_a_signed_poll_gets_the_sample_page_byte_for_byte(clock: Clock):
    clock.now = at(2024, 3, 5, 17, 50)
    with DrugAdminSimulator(clock=clock, min_interval_s=0) as sim:
        sim.inspections[:] = sim.inspections[:2]
        config = make_config(sim)
        with closing(open_transport(config)) as transport:
            raw = _query(transport, config, clock.now, since=at(2024, 3, 5, 17, 40, 12))
    assert raw.meta["status"] == "200"
    assert raw.body == sample("query_inspections-1.xml")


def test_the_penalty_page_carries_the_escaped_result_xml_of_the_sample(clock: Clock):
    clock.now = at(2024, 3, 6, 10, 20)
    with DrugAdminSimulator(clock=clock, min_interval_s=0) as sim:
        sim.penalties[:] = sim.penalties[:2]
        config = make_config(sim)
        with closing(open_transport(config)) as transport:
            raw = _query(transport, config, clock.now, message="query_penalties")
    assert raw.body == sample("query_penalties-1.xml")


def test_a_wrong_password_is_failed_authentication(simulator, clock):
    config = make_config(simulator, password="wrong")
    with closing(open_transport(config)) as transport:
        raw = _query(transport, config, clock.now)
    assert (raw.meta["status"], _error_code(raw)) == ("500", "E1001")
    assert mapped("query_inspections", raw.body).outcome.outcome == "batch_failed"  # type: ignore[union-attr]


def test_a_replayed_nonce_is_invalid_security(simulator, config, transport, clock):
    nonce = "5a1f0c9e33b84d27a6e0f4519bc2d870"
    first = _query(transport, config, clock.now, nonce=nonce)
    again = _query(transport, config, clock.now, nonce=nonce)
    assert first.meta["status"] == "200"
    assert _error_code(again) == "E1002"


@pytest.mark.parametrize(
    ("skew", "status"),
    [
        (dt.timedelta(seconds=-299), "200"),
        (dt.timedelta(seconds=-301), "500"),
        (dt.timedelta(seconds=59), "200"),
        (dt.timedelta(seconds=61), "500"),
    ],
    ids=["299 s old", "301 s old", "59 s ahead", "61 s ahead"],
)
def test_created_must_lie_within_300_s_past_and_60_s_future(
    simulator, config, transport, clock, skew, status
):
    raw = _query(transport, config, clock.now + skew)
    assert raw.meta["status"] == status
    if status == "500":
        assert _error_code(raw) == "E1003"


def test_created_with_an_offset_instead_of_z_is_message_expired(
    simulator, config, transport, clock
):
    request = query_request(
        "query_inspections", config, CallContext(now=clock.now), at(2024, 3, 5), 1, 10
    )
    body = request.body.replace(b"Z</wsu:Created>", b"+00:00</wsu:Created>")
    raw = transport.send(type(request)(body=body, headers=request.headers, path=request.path))
    assert _error_code(raw) == "E1003"


def test_a_request_without_security_header_is_invalid_security(simulator, config, transport, clock):
    request = query_request(
        "query_inspections", config, CallContext(now=clock.now), at(2024, 3, 5), 1, 10
    )
    start, end = (
        request.body.index(b"<soap12:Header>"),
        request.body.index(b"</soap12:Header>") + 16,
    )
    raw = transport.send(
        type(request)(
            body=request.body[:start] + request.body[end:],
            headers=request.headers,
            path=request.path,
        )
    )
    assert _error_code(raw) == "E1002"


def test_soap_11_content_type_is_refused_with_415(simulator):
    answer = httpx.post(simulator.endpoint, content=b"<x/>", headers={"Content-Type": "text/xml"})
    assert answer.status_code == 415


def test_a_page_size_over_200_is_an_invalid_parameter_fault(simulator, config, transport, clock):
    raw = _query(transport, config, clock.now, page_size=201)
    assert _error_code(raw) == "E2002"


def test_a_since_time_over_31_days_back_answers_3001(simulator, config, transport, clock):
    raw = _query(transport, config, clock.now, since=clock.now - dt.timedelta(days=32))
    outcome = mapped("query_inspections", raw.body).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code) == ("batch_failed", "3001")


def test_two_requests_of_one_operation_within_5_s_are_service_busy(clock):
    with DrugAdminSimulator(clock=clock, min_interval_s=5) as sim:
        config = make_config(sim)
        with closing(open_transport(config)) as transport:
            first = _query(transport, config, clock.now)
            second = _query(transport, config, clock.now)
            other = _query(transport, config, clock.now, message="query_penalties")
    assert (first.meta["status"], other.meta["status"]) == ("200", "200")
    outcome = mapped("query_inspections", second.body).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code, outcome.retry_after_s) == ("batch_retry", "E5003", 5)


def test_an_injected_latency_beyond_the_read_timeout_is_a_transient_timeout(simulator, clock):
    simulator.inject(Fault("delay", seconds=1.0))
    config = make_config(simulator, read_timeout_s=0.2)
    with closing(open_transport(config)) as transport, pytest.raises(TransientError) as raised:
        _query(transport, config, clock.now)
    assert raised.value.code == "TIMEOUT"


def test_injected_duplicate_repeats_a_record_inside_the_page(simulator, config, transport, clock):
    simulator.inject_soap("duplicate", operation="QueryInspections")
    raw = _query(transport, config, clock.now)
    assert raw.body.count(b"JCJL-2024-000871</ns2:RecordId>") == 2
    result = mapped("query_inspections", raw.body)
    assert len(result.envelopes) == len({e.source_message_id for e in result.envelopes}) == 5
