"""Framing: signed SOAP 1.1 requests equal the spec's request samples (README §2, §3.2, §4)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters._transports import soap
from adapters.eco_env import (
    SERVICE,
    SPEC,
    EcoEnvConfig,
    frame,
    get_case_list_request,
    get_penalty_decision_request,
    sign,
    timestamp,
)
from runner.adapter_api import CallContext, PermanentError
from runner.cli import app
from runner.dryrun import render_message
from tests.adapters.eco_env._support import (
    PROJECT,
    SAMPLES,
    at,
    canonical_xml,
    sample,
    sample_json,
    soap_text,
)

DEMO = EcoEnvConfig.model_validate(dict(SPEC.demo_config))


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        pytest.param("20250410091500", "6432BA359D3496B14443029CBDB3B05B", id="push_joint_task-1"),
        pytest.param("20250321180000", "6CDD83C018D89BD5304154BF92237505", id="get_case_list-1"),
        pytest.param("20250418163000", "B6C1FCC3C98B02835B59E4A8CB0CE608", id="decision-1"),
        pytest.param("20250610140000", "EDD37D374AD68D7B96F7FE3333F52E30", id="push_joint_task-2"),
    ],
)
def test_sign_is_the_upper_case_md5_of_user_timestamp_and_secret(stamp: str, expected: str):
    assert sign("fjzf_esb", stamp, "Hj#2025@FjzfEsb!test") == expected


def test_sign_hashes_the_utf8_bytes_of_a_non_ascii_secret():
    digest = hashlib.md5("u20250101000000密钥".encode()).hexdigest().upper()
    assert sign("u", "20250101000000", "密钥") == digest


def test_timestamp_is_beijing_time_whatever_the_zone_of_the_clock():
    utc = dt.datetime(2025, 4, 10, 1, 15, tzinfo=dt.UTC)
    assert timestamp(utc) == "20250410091500"


def test_get_case_list_request_equals_the_sample_as_xml():
    call = get_case_list_request(
        DEMO,
        CallContext(now=at(2025, 3, 21, 18, 0, 0)),
        at(2025, 3, 21, 17, 35, 0),
        at(2025, 3, 21, 17, 59, 0),
        1,
        50,
    )
    assert canonical_xml(call.body) == canonical_xml(sample("get_case_list_request-1.xml"))


def test_get_penalty_decision_request_equals_the_sample_as_xml():
    call = get_penalty_decision_request(DEMO, CallContext(now=at(2025, 4, 18, 16, 30, 0)), 10187)
    assert canonical_xml(call.body) == canonical_xml(sample("get_penalty_decision_request-1.xml"))


def _framed_push(number: int, now_iso: str) -> bytes:
    items = sample_json(f"push_joint_task-{number}.input.json")
    call = render_message(PROJECT, "eco_env", "push_joint_task", [items], {"now": now_iso})
    return call.body


@pytest.mark.parametrize(
    ("number", "now_iso"),
    [
        pytest.param(1, "2025-04-10T09:15:00+08:00", id="market_platform task"),
        pytest.param(2, "2025-06-10T14:00:00+08:00", id="platform task with YJ items left out"),
    ],
)
def test_push_joint_task_frames_the_rendered_task_as_the_sample_envelope(number, now_iso):
    body = _framed_push(number, now_iso)
    assert canonical_xml(body) == canonical_xml(sample(f"push_joint_task-{number}.xml"))


@pytest.mark.parametrize("number", [1, 2])
def test_push_joint_task_carries_the_task_xml_string_byte_for_byte(number: int):
    body = _framed_push(number, "2025-04-10T09:15:00+08:00")
    task_xml = soap_text(body, "taskXml").encode("utf-8")
    assert task_xml == sample(f"push_joint_task-{number}.taskxml.xml")


def test_every_request_has_the_soap_11_content_type_and_the_quoted_soap_action():
    call = frame("push_joint_task", b"<JointTask />", DEMO, CallContext(now=at(2025, 1, 1)))
    assert call.headers == {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"http://tempuri.org/PushJointTask"',
    }
    assert (call.method, call.path) == ("POST", "/EnforceService/LawEnforceService.asmx")
    assert call.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')


def test_request_builders_send_the_soap_action_of_their_own_operation():
    now = CallContext(now=at(2025, 1, 1))
    listing = get_case_list_request(DEMO, now, at(2025, 1, 1), at(2025, 1, 1, 1), 1, 50)
    decision = get_penalty_decision_request(DEMO, now, 1)
    assert listing.headers["SOAPAction"] == '"http://tempuri.org/GetCaseList"'
    assert decision.headers["SOAPAction"] == '"http://tempuri.org/GetPenaltyDecision"'


def test_frame_refuses_the_poller_requests_which_have_no_mapping():
    with pytest.raises(PermanentError, match="only push_joint_task"):
        frame("get_case_list_request", b"", DEMO, CallContext(now=at(2025, 1, 1)))


def test_ebus_render_prints_the_signed_soap_request(tmp_path: Path):
    source = SAMPLES / "push_joint_task-1.input.json"
    result = CliRunner().invoke(
        app,
        [
            "render",
            "eco_env",
            "push_joint_task",
            str(source),
            "--meta",
            "now=2025-04-10T09:15:00+08:00",
        ],
    )
    assert result.exit_code == 0, result.output
    body = result.stdout_bytes
    assert soap_text(body, "Sign") == "6432BA359D3496B14443029CBDB3B05B"
    assert canonical_xml(body) == canonical_xml(sample("push_joint_task-1.xml"))


def test_the_wsdl_is_loaded_once_per_service(monkeypatch: pytest.MonkeyPatch):
    loads: list[object] = []
    real = soap._load_wsdl

    def counting(wsdl: object) -> object:
        loads.append(wsdl)
        return real(wsdl)  # type: ignore[arg-type]

    monkeypatch.setattr(soap, "_load_wsdl", counting)
    service = soap.SoapService(SERVICE.wsdl, system="eco_env")
    for case_id in (1, 2, 3):
        service.request("GetPenaltyDecision", path="/x.asmx", caseId=case_id)
    assert len(loads) == 1


def test_a_request_zeep_cannot_build_is_a_permanent_error():
    with pytest.raises(PermanentError) as raised:
        SERVICE.request("GetPenaltyDecision", path="/x.asmx", caseNumber=10187)
    assert raised.value.code == "SOAP_REQUEST"


def test_an_operation_the_wsdl_does_not_have_is_a_permanent_error():
    with pytest.raises(PermanentError, match="no operation 'GetCase'"):
        SERVICE.request("GetCase", path="/x.asmx")
