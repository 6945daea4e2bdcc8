"""Outbound: 签收 (accept) and 办结反馈 (feedback) rendered and framed exactly as the samples
(README §4.2, §4.3, §9), and the inputs the spec forbids refused before anything is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.hotline_12345 import SPEC
from runner.adapter_api import CallContext, MessageRejected
from runner.cli import app
from runner.dryrun import parse_now, render_message
from schemas import parse_envelope
from tests.adapters.hotline_12345.samples import (
    PRODUCTION_HOST,
    PROJECT,
    SAMPLES,
    config,
    envelope,
    read_http,
    wire_request,
)

REQUESTS = ["accept-1", "accept-2", "feedback-1", "feedback-2"]


def _message(stem: str) -> str:
    return stem.rsplit("-", 1)[0]


def _render(message: str, item: dict[str, Any], **facts: str) -> Any:
    return render_message(PROJECT, "hotline_12345", message, [item], facts)


def _refusal(message: str, item: dict[str, Any]) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        _render(message, item)
    return caught.value


@pytest.mark.parametrize("stem", REQUESTS)
def test_the_rendered_body_is_the_json_sample_byte_for_byte(stem: str):
    call = _render(_message(stem), envelope(stem))
    assert call.body == (SAMPLES / f"{stem}.json").read_bytes()


@pytest.mark.parametrize("stem", REQUESTS)
def test_the_framed_call_is_the_http_sample_byte_for_byte(stem: str):
    mapping = PROJECT.outbound_mapping("hotline_12345", _message(stem))
    document = mapping.render([parse_envelope(envelope(stem), draft=True)], {})
    framed = SPEC.outgoing(_message(stem), document, config(), CallContext(now=parse_now(None)))
    assert wire_request(framed, PRODUCTION_HOST) == (SAMPLES / f"{stem}.http").read_bytes()


@pytest.mark.parametrize("stem", REQUESTS)
def test_ebus_render_with_headers_prints_the_sample_request(stem: str):
    sample = read_http(stem)
    source = str(SAMPLES / f"{stem}.input.json")
    result = CliRunner().invoke(
        app, ["render", "hotline_12345", _message(stem), source, "--headers"]
    )
    assert result.exit_code == 0, result.output
    head, _, body = result.stdout_bytes.partition(b"\n\n")
    line, *fields = head.decode().split("\n")
    assert line == f"{sample.method} {sample.path}"
    assert [tuple(f.split(": ", 1)) for f in fields] == [
        (k, v) for k, v in sample.headers if k != "Host"
    ]
    assert body == sample.body


@pytest.mark.parametrize("stem", REQUESTS)
def test_a_resent_call_at_another_time_has_the_same_bytes_and_request_id(stem: str):
    first = _render(_message(stem), envelope(stem), now="2025-03-11T09:20:05+08:00")
    later = _render(_message(stem), envelope(stem), now="2025-03-12T18:00:00+08:00", nonce="x")
    assert (later.body, dict(later.headers)) == (first.body, dict(first.headers))


def test_the_accept_time_is_the_envelope_received_at_in_beijing_time():
    item = envelope("accept-1") | {"received_at": "2025-03-11T01:20:05+00:00"}
    assert json.loads(_render("accept", item).body)["QSSJ"] == "2025-03-11 09:20:05"


def test_ajbsm_is_sent_only_for_a_case_opened_and_omitted_otherwise():
    opened = json.loads(_render("feedback", envelope("feedback-1")).body)
    other = json.loads(_render("feedback", envelope("feedback-2")).body)
    assert opened["AJBSM"] == "FJ3501022025SC96F2CFF9"
    assert "AJBSM" not in other
    assert list(other) == ["BJJG", "BJJGMC", "CLCS", "BJSJ", "BLDWMC", "BLDWTYDM", "BLR", "BLRZH"]


@pytest.mark.parametrize(
    ("result", "code", "name"),
    [
        ("rectify", "02", "反映问题属实，已责令整改"),
        ("not_found", "04", "查无此对象或无法核实"),
        ("other", "09", "其他"),
    ],
)
def test_every_inspection_result_has_its_t4_code_and_name(result: str, code: str, name: str):
    item = envelope("feedback-2")
    item["payload"]["result"] = result
    body = json.loads(_render("feedback", item).body)
    assert (body["BJJG"], body["BJJGMC"]) == (code, name)


def test_a_case_opened_without_a_case_code_is_refused_not_sent():
    item = envelope("feedback-1") | {"case_code": None}
    error = _refusal("feedback", item)
    assert (error.system, error.message, error.rule) == ("hotline_12345", "feedback", "required")


def test_findings_shorter_than_ten_characters_are_refused_before_the_platform_does():
    item = envelope("feedback-2")
    item["payload"]["findings"] = "未发现问题。"
    assert _refusal("feedback", item).rule == "length"


def test_findings_longer_than_two_thousand_characters_are_refused():
    item = envelope("feedback-2")
    item["payload"]["findings"] = "查" * 2001
    assert _refusal("feedback", item).rule == "length"


def test_a_feedback_without_an_officer_is_refused():
    item = envelope("feedback-2")
    item["payload"]["officers"] = []
    assert _refusal("feedback", item).rule == "required"


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "routine"},
        {"task_id": "RW-350521-2025-0001"},
        {"task_id": None},
        {"inspected_at": None, "result": None, "findings": None},
    ],
    ids=["not a complaint check", "task not a 12345 order", "no task", "not yet inspected"],
)
def test_an_inspection_that_is_no_12345_feedback_is_not_taken(change: dict[str, Any]):
    item = envelope("feedback-2")
    item["payload"] |= change
    assert _refusal("feedback", item).rule == "not_accepted"


def test_a_task_id_starting_with_gd_but_not_fifteen_digits_is_refused():
    item = envelope("feedback-2")
    item["payload"]["task_id"] = "GD2025031400011X7"
    assert _refusal("feedback", item).rule == "pattern"


def test_a_clue_from_another_system_is_not_accepted_at_12345():
    item = envelope("accept-1") | {"source_system": "market_reg"}
    item["payload"]["source_system"] = "market_reg"
    assert _refusal("accept", item).rule == "not_accepted"


def test_an_accept_whose_source_message_id_has_no_dispatch_number_is_refused():
    item = envelope("accept-1") | {"source_message_id": "GD202503110004521"}
    assert _refusal("accept", item).rule == "pattern"


def test_a_request_id_longer_than_64_characters_is_refused():
    item = envelope("feedback-2") | {"source_message_id": "JC-" + "9" * 60}
    error = _refusal("feedback", item)
    assert (error.field, error.rule) == ("X-Request-Id", "request_id_format")


def test_the_api_key_is_not_in_the_config_repr():
    assert "7Qm2xR9vL4kP8sT1" not in repr(config())


def test_a_malformed_api_key_is_refused_without_repeating_it():
    with pytest.raises(ValueError, match="api_key") as caught:
        config(api_key="fj12345_prod_SECRETSECRETSECRE")
    assert "SECRETSECRET" not in str(caught.value)
