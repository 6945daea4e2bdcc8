"""The eco_env simulator: a real SOAP 1.1 server that answers as the spec's samples do."""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import closing
from typing import Any

import pytest
import requests
from lxml import etree
from zeep import Client, Transport

from adapters._simulators.soap import asmx_response
from adapters.eco_env import (
    SERVICE,
    EcoEnvConfig,
    get_case_list_request,
    get_penalty_decision_request,
    open_transport,
    push_joint_task_request,
)
from adapters.eco_env.simulator import (
    NAMESPACE,
    EcoEnvSimulator,
    case_list_document,
    generate_dataset,
    sample_dataset,
)
from runner.adapter_api import CallContext, Connection, Outgoing, RawMessage
from schemas.divisions import is_division_code
from schemas.identifiers import check_resident_id, check_uscc
from tests.adapters.eco_env._support import at, canonical_xml, naive, sample, soap_text
from tests.adapters.eco_env.conftest import Clock, make_config


def _list(
    transport: Connection,
    config: EcoEnvConfig,
    clock: Clock,
    window: tuple[Any, Any],
    page: int = 1,
    size: int = 50,
) -> RawMessage:
    call = get_case_list_request(config, CallContext(now=clock.now), *window, page, size)
    return transport.send(call)


def _decision(transport: Connection, config: EcoEnvConfig, clock: Clock, case_id: int) -> bytes:
    call = get_penalty_decision_request(config, CallContext(now=clock.now), case_id)
    return transport.send(call).body


def _result(raw: RawMessage | bytes, operation: str) -> str:
    body = raw.body if isinstance(raw, RawMessage) else raw
    return soap_text(body, f"{operation}Result")


def _code(raw: RawMessage | bytes, operation: str) -> str:
    inner = _result(raw, operation).split("?>", 1)[1]
    return soap_text(inner.encode(), "Code")


JUNE_3 = (at(2025, 6, 3, 16, 30), at(2025, 6, 3, 16, 59))

# --- the samples, byte for byte -------------------------------------------------------------


def test_a_page_with_one_case_is_the_sample_byte_for_byte(transport, config, clock):
    raw = _list(transport, config, clock, JUNE_3)
    assert raw.meta["status"] == "200"
    assert raw.headers["content-type"] == "text/xml; charset=utf-8"
    assert raw.body == sample("get_case_list_response-2.xml")


def test_an_empty_page_is_the_sample_byte_for_byte(transport, config, clock):
    raw = _list(transport, config, clock, (at(2025, 6, 3, 10, 0), at(2025, 6, 3, 11, 0)))
    assert raw.body == sample("get_case_list_response-3.xml")


def test_a_window_over_seven_days_is_error_1002_as_in_the_sample(transport, config, clock):
    raw = _list(transport, config, clock, (at(2025, 5, 27, 16, 0), at(2025, 6, 3, 16, 0, 1)))
    assert raw.body == sample("get_case_list_response-4.xml")


def test_two_cases_serialize_as_the_sample_page_with_two_cases():
    cases = sample_dataset().cases
    body = asmx_response(
        NAMESPACE, "GetCaseList", case_list_document([cases[10231], cases[10187]], 2, 1, 50)
    )
    assert body == sample("get_case_list_response-1.xml")


@pytest.mark.parametrize(
    ("case_id", "name"),
    [
        pytest.param(10187, "get_penalty_decision_response-1.xml", id="fine of 3.8 万元"),
        pytest.param(15402, "get_penalty_decision_response-2.xml", id="20.000000 万元, nil date"),
    ],
)
def test_a_decision_is_the_sample_byte_for_byte(transport, config, clock, case_id, name):
    assert _decision(transport, config, clock, case_id) == sample(name)


def test_a_wrong_secret_is_answered_with_the_sample_fault_and_http_500(simulator, clock):
    config = make_config(simulator, secret_key="wrong")
    with closing(open_transport(config)) as transport:
        raw = _list(transport, config, clock, JUNE_3)
    assert raw.meta["status"] == "500"
    assert raw.body == sample("push_joint_task_response-3.xml")


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skew_s", "accepted"),
    [
        pytest.param(600, True, id="10 minutes behind is accepted"),
        pytest.param(-600, True, id="10 minutes ahead is accepted"),
        pytest.param(601, False, id="10 minutes and 1 second behind is refused"),
        pytest.param(-601, False, id="10 minutes and 1 second ahead is refused"),
    ],
)
def test_the_timestamp_may_differ_from_the_server_clock_by_ten_minutes(
    transport, config, clock, skew_s, accepted
):
    call = get_penalty_decision_request(
        config, CallContext(now=clock.now - dt.timedelta(seconds=skew_s)), 10187
    )
    assert (transport.send(call).meta["status"] == "200") is accepted


def test_an_unknown_user_is_refused(simulator, clock):
    config = make_config(simulator, user_name="someone")
    with closing(open_transport(config)) as transport:
        assert "身份验证失败".encode() in _decision(transport, config, clock, 10187)


def test_a_lower_case_sign_is_refused(transport, config, clock):
    call = get_penalty_decision_request(config, CallContext(now=clock.now), 10187)
    sign = soap_text(call.body, "Sign")
    assert sign != sign.lower()
    lowered = call.body.replace(sign.encode(), sign.lower().encode())
    assert transport.send(Outgoing(lowered, call.headers, path=call.path)).meta["status"] == "500"
    assert transport.send(call).meta["status"] == "200"


def test_a_soap_action_without_quotes_is_a_client_fault(transport, config, clock):
    call = get_penalty_decision_request(config, CallContext(now=clock.now), 10187)
    headers = dict(call.headers, SOAPAction="http://tempuri.org/GetPenaltyDecision")
    answer = transport.send(Outgoing(call.body, headers, path=call.path))
    assert answer.meta["status"] == "500"
    assert soap_text(answer.body, "faultcode") == "soap:Client"


def test_soap_12_is_not_served(transport, config, clock):
    call = get_penalty_decision_request(config, CallContext(now=clock.now), 10187)
    headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
    assert transport.send(Outgoing(call.body, headers, path=call.path)).meta["status"] == "415"


# --- windows, paging and errors -------------------------------------------------------------


def test_window_ends_are_inclusive(transport, config, clock):
    updated = at(2025, 6, 3, 16, 40, 55)
    for window in ((updated, at(2025, 6, 3, 17)), (at(2025, 6, 3, 16), updated)):
        assert "<TotalCount>1<" in _result(_list(transport, config, clock, window), "GetCaseList")


def test_the_server_also_reads_dotnet_window_times(transport, config, clock):
    call = get_case_list_request(config, CallContext(now=clock.now), *JUNE_3, 1, 50)
    body = call.body.replace(b"2025-06-03 16:30:00", b"2025/6/3 16:30:00")
    assert transport.send(Outgoing(body, call.headers, path=call.path)).body == sample(
        "get_case_list_response-2.xml"
    )


def test_cases_come_ordered_by_update_time_then_case_id_and_paged(simulator, clock):
    simulator.dataset = generate_dataset(9, since=naive(2025, 6, 3, 9), until=naive(2025, 6, 3, 10))
    twin = dict(simulator.dataset.cases[30001], CaseId="30000")
    simulator.add_case(twin)  # same UpdateTime as 30001, smaller CaseId
    config = make_config(simulator)
    window = (at(2025, 6, 3, 9), at(2025, 6, 3, 10))
    with closing(open_transport(config)) as transport:
        pages = [_result(_list(transport, config, clock, window, p, 4), "GetCaseList")
                 for p in (1, 2, 3)]  # fmt: skip
    keys = []
    for page in pages:
        assert "<TotalCount>10<" in page
        for info in page.split("<CaseInfo>")[1:]:
            case_id = int(info.split("<CaseId>")[1].split("<")[0])
            updated = info.split("<UpdateTime>")[1].split("<")[0]
            keys.append((_sortable(updated), case_id))
    assert [len(p.split("<CaseInfo>")) - 1 for p in pages] == [4, 4, 2]
    assert keys == sorted(keys)
    assert len(set(keys)) == 10


def _sortable(net_time: str) -> tuple[int, ...]:
    date, time = net_time.split(" ")
    return tuple(int(x) for x in date.split("/") + time.split(":"))


@pytest.mark.parametrize(
    ("size", "code"),
    [pytest.param(0, "1003", id="page size 0"), pytest.param(201, "1003", id="page size 201")],
)
def test_a_page_size_outside_1_to_200_is_error_1003(transport, config, clock, size, code):
    assert _code(_list(transport, config, clock, JUNE_3, 1, size), "GetCaseList") == code


def test_an_end_before_the_start_is_error_1001(transport, config, clock):
    window = (JUNE_3[1], JUNE_3[0])
    assert _code(_list(transport, config, clock, window), "GetCaseList") == "1001"


@pytest.mark.parametrize(
    ("case_id", "code"),
    [
        pytest.param(99999, "1004", id="no such case"),
        pytest.param(20877, "1005", id="a case without a decision"),
    ],
)
def test_a_decision_that_does_not_exist_is_an_error(transport, config, clock, case_id, code):
    assert _code(_decision(transport, config, clock, case_id), "GetPenaltyDecision") == code


# --- push ---------------------------------------------------------------------------------


def test_an_invalid_task_is_error_2002_and_not_recorded(simulator, transport, config, clock):
    task = sample("push_joint_task-1.taskxml.xml").decode().replace("<Region>350982</Region>", "")
    answer = transport.send(push_joint_task_request(config, CallContext(now=clock.now), task))
    assert _code(answer, "PushJointTask") == "2002"
    assert simulator.tasks == []


def test_a_task_with_a_dtd_is_error_2002(simulator, transport, config, clock):
    task = '<!DOCTYPE JointTask [<!ENTITY x "y">]>' + sample(
        "push_joint_task-1.taskxml.xml"
    ).decode().replace("<TaskNo>", "<TaskNo>&x;")
    answer = transport.send(push_joint_task_request(config, CallContext(now=clock.now), task))
    assert _code(answer, "PushJointTask") == "2002"
    assert simulator.tasks == []


# --- the WSDL and zeep --------------------------------------------------------------------


def test_the_wsdl_is_served_with_the_simulator_as_its_address(simulator, transport):
    answer = transport.send(Outgoing(b"", method="GET", path=simulator.wsdl_url))
    assert answer.meta["status"] == "200"
    assert f'location="{simulator.endpoint}"'.encode() in answer.body
    assert b"hjzf.sthjt.fujian.gov.cn" not in answer.body


def test_zeep_loads_the_wsdl_from_the_simulator(simulator):
    with requests.Session() as session:
        client = Client(simulator.wsdl_url, transport=Transport(session=session))
        service = client.wsdl.services["LawEnforceService"]
        address = service.ports["LawEnforceServiceSoap"].binding_options["address"]
        envelope = client.create_message(
            client.service, "GetPenaltyDecision", caseId=10187,
            _soapheaders={"AuthHeader": {"UserName": "u", "Timestamp": "t", "Sign": "s"}},
        )  # fmt: skip
    ours = SERVICE.envelope(
        "GetPenaltyDecision", {"AuthHeader": {"UserName": "u", "Timestamp": "t", "Sign": "s"}},
        caseId=10187,
    )  # fmt: skip
    assert address == simulator.endpoint
    assert canonical_xml(etree.tostring(envelope)) == canonical_xml(etree.tostring(ours))


def test_another_path_is_not_found(simulator, transport):
    answer = transport.send(Outgoing(b"", method="GET", path="/Other.asmx"))
    assert answer.meta["status"] == "404"


# --- load ---------------------------------------------------------------------------------


def _concurrent_statuses(clock: Clock, count: int, **overrides: object) -> list[str]:
    """``count`` page requests at once, each worker on its own connection."""
    with EcoEnvSimulator(clock=clock, latency_s=0.5) as simulator:
        config = make_config(simulator, **overrides)
        statuses: list[str] = []
        barrier = threading.Barrier(count)

        def one() -> None:
            with closing(open_transport(config)) as transport:
                barrier.wait()
                statuses.append(_list_status(transport, config, clock))

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return sorted(statuses)


def test_a_third_concurrent_request_gets_http_503(clock):
    assert _concurrent_statuses(clock, 3, max_concurrent=None) == ["200", "200", "503"]


def test_the_connections_of_the_account_keep_two_requests_in_flight_and_meet_no_503(clock):
    assert _concurrent_statuses(clock, 5) == ["200"] * 5


def _list_status(transport: Connection, config: EcoEnvConfig, clock: Clock) -> str:
    return _list(transport, config, clock, JUNE_3).meta["status"]


# --- generated data -------------------------------------------------------------------------


def test_generated_cases_carry_valid_identifiers_and_real_fujian_divisions():
    dataset = generate_dataset(80, since=naive(2025, 6, 1), until=naive(2025, 6, 3))
    for case in dataset.cases.values():
        assert is_division_code(str(case["OrgRegion"]))
        assert str(case["OrgRegion"]).startswith("35")
        check_uscc(str(case["OrgCreditCode"]))
        if case["PartyType"] == "4":
            check_resident_id(str(case["IdCardNo"]))
        else:
            check_uscc(str(case["CreditCode"]))
    assert {c["PartyType"] for c in dataset.cases.values()} >= {"1", "4"}
    assert 0 < len(dataset.decisions) < len(dataset.cases)


def test_the_same_seed_generates_the_same_cases():
    window: dict[str, Any] = {"since": naive(2025, 6, 1), "until": naive(2025, 6, 3)}
    assert generate_dataset(5, **window) == generate_dataset(5, **window)
    assert generate_dataset(5, **window) != generate_dataset(5, seed=7, **window)
