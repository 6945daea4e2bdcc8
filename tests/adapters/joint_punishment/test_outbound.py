"""Outbound: the query and feedback bodies and calls rendered exactly as the samples, and the
rules of README §4.1 / §4.3 enforced before anything is sent."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from adapters.joint_punishment import SPEC
from runner.adapter_api import CallContext, MessageRejected, Outgoing
from runner.cli import app
from runner.dryrun import render_message
from tests.adapters.joint_punishment.samples import (
    PROJECT,
    SAMPLE_TOKEN,
    SAMPLES,
    config,
    inputs,
    read_http,
    wire_request,
)

REQUESTS = ["dishonest_query-1", "dishonest_query-2", "feedback-1", "feedback-2"]
PINNED = {"access_token": SAMPLE_TOKEN}


def _message(stem: str) -> str:
    return stem.rsplit("-", 1)[0]


def _call(message: str, item: dict[str, Any], facts: dict[str, str] | None = None) -> Outgoing:
    return render_message(PROJECT, "joint_punishment", message, [item], facts or {})


def _body(message: str, item: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(_call(message, item).body)
    return body


@pytest.mark.parametrize("stem", REQUESTS)
def test_the_body_is_the_sample_body_byte_for_byte(stem: str):
    assert _call(_message(stem), inputs(stem)).body == (SAMPLES / f"{stem}.json").read_bytes()


@pytest.mark.parametrize("stem", REQUESTS)
def test_with_the_samples_token_the_call_is_the_http_sample_byte_for_byte(stem: str):
    call = _call(_message(stem), inputs(stem), PINNED)
    assert wire_request(call) == (SAMPLES / f"{stem}.http").read_bytes()


@pytest.mark.parametrize("stem", REQUESTS)
def test_ebus_render_with_headers_prints_the_sample_request(stem: str):
    sample = read_http(stem)
    source = str(SAMPLES / f"{stem}.input.json")
    result = CliRunner().invoke(
        app,
        [
            *("render", "joint_punishment", _message(stem), source, "--headers"),
            *("--meta", f"access_token={SAMPLE_TOKEN}"),
        ],
    )
    assert result.exit_code == 0, result.output
    head, _, body = result.stdout_bytes.partition(b"\n\n")
    line, *fields = head.decode().split("\n")
    assert line == f"{sample.method} {sample.path}"
    assert [tuple(f.split(": ", 1)) for f in fields] == [
        (k, v) for k, v in sample.headers if k != "Host"
    ]
    assert body == sample.body


def test_without_a_pinned_token_the_frame_leaves_authorization_to_the_connection():
    call = _call("feedback", inputs("feedback-1"))
    assert "Authorization" not in call.headers
    assert call.headers["X-Request-Id"] == "01HRG4T6V8X0Z2B4D6F8H0J2K4"


def test_the_request_id_header_repeats_the_body_request_id():
    item = inputs("dishonest_query-2") | {"request_id": "01HRA0000000000000000000ZZ"}
    call = _call("dishonest_query", item)
    assert call.headers["X-Request-Id"] == json.loads(call.body)["requestId"]
    assert call.headers["X-Request-Id"] == "01HRA0000000000000000000ZZ"


def test_a_framed_body_without_its_id_is_refused():
    with pytest.raises(MessageRejected, match=r"requestId.*\[max_64\]"):
        SPEC.outgoing("dishonest_query", b"{}", config(), CallContext(now=_now()))


def _now() -> Any:
    import datetime as dt  # noqa: PLC0415

    return dt.datetime(2024, 3, 5, 14, 40, tzinfo=dt.UTC)


# --- dishonest_query (§4.1) -------------------------------------------------------------------


def test_subjects_are_numbered_from_one_in_input_order():
    item = inputs("dishonest_query-1")
    item["subjects"] = item["subjects"][::-1]
    subjects = _body("dishonest_query", item)["subjects"]
    assert [(s["seq"], s["subjectType"]) for s in subjects] == [(1, "4"), (2, "1")]


def test_an_organisation_has_no_id_keys_and_a_natural_person_no_uscc_key():
    organisation, person = _body("dishonest_query", inputs("dishonest_query-1"))["subjects"]
    assert list(organisation) == ["seq", "subjectType", "name", "uscc", "bizNo"]
    assert list(person) == ["seq", "subjectType", "name", "idType", "idNumber", "bizNo"]


def test_a_query_takes_at_most_fifty_subjects():
    item = inputs("dishonest_query-2")
    item["subjects"] = [copy.deepcopy(item["subjects"][0]) for _ in range(50)]
    assert len(_body("dishonest_query", item)["subjects"]) == 50
    item["subjects"].append(copy.deepcopy(item["subjects"][0]))
    with pytest.raises(MessageRejected, match=r"subjects.*\[too_long\]"):
        _call("dishonest_query", item)


def test_a_query_without_subjects_is_refused():
    item = inputs("dishonest_query-2") | {"subjects": []}
    with pytest.raises(MessageRejected, match=r"\[too_short\]"):
        _call("dishonest_query", item)


def test_a_subject_uscc_failing_gb_32100_is_refused_and_never_sent():
    item = inputs("dishonest_query-2")
    item["subjects"][0]["party"]["uscc"] = "91350802MA31L6T257"
    with pytest.raises(MessageRejected, match=r"subjects\.0\.party\.uscc.*\[uscc_check\]") as info:
        _call("dishonest_query", item)
    assert info.value.system == "joint_punishment"
    assert info.value.message == "dishonest_query"


def test_a_resident_id_failing_gb_11643_is_refused_without_repeating_it():
    item = inputs("dishonest_query-1")
    item["subjects"][1]["party"]["id_number"] = "350102198806151234"
    with pytest.raises(MessageRejected, match=r"\[id_number_check\]") as info:
        _call("dishonest_query", item)
    assert "350102198806151234" not in str(info.value)


def test_a_natural_person_without_an_id_number_is_refused():
    item = inputs("dishonest_query-1")
    item["subjects"][1]["party"] |= {"id_type": None, "id_number": None}
    with pytest.raises(MessageRejected, match=r"\[required\]"):
        _call("dishonest_query", item)


def test_a_legacy_fifteen_digit_id_is_sent_in_its_eighteen_digit_form():
    item = inputs("dishonest_query-1")
    item["subjects"][1]["party"]["id_number"] = "350102880615123"
    assert _body("dishonest_query", item)["subjects"][1]["idNumber"] == "350102198806151233"


def test_full_width_and_lower_case_codes_are_folded_before_sending():
    item = inputs("dishonest_query-2")
    item["subjects"][0]["party"]["uscc"] = "９１３５０８０２ma31l6t256"
    item["agency"]["uscc"] = "11350800mb1h1352xt"
    call = _call("dishonest_query", item)
    assert call.body == (SAMPLES / "dishonest_query-2.json").read_bytes()


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        pytest.param(
            {"request_id": "not-a-ulid"}, "string_pattern_mismatch", id="request id not a ULID"
        ),
        pytest.param({"scene": "hearing"}, "literal_error", id="scene outside the four"),
        pytest.param({"unexpected": 1}, "extra_forbidden", id="an unknown key"),
    ],
)
def test_an_input_outside_its_model_is_refused(change: dict[str, Any], rule: str):
    with pytest.raises(MessageRejected, match=rf"\[{rule}"):
        _call("dishonest_query", inputs("dishonest_query-2") | change)


@pytest.mark.parametrize(
    ("domain", "scene", "codes"),
    [
        pytest.param("YJ", "inspection", ("YJGL", "03"), id="emergency inspection"),
        pytest.param("CG", "other", ("CSGL", "09"), id="urban management other"),
    ],
)
def test_field_and_scene_follow_the_code_tables(domain: str, scene: str, codes: tuple[str, str]):
    item = inputs("dishonest_query-2") | {"scene": scene}
    item["agency"]["domain"] = domain
    body = _body("dishonest_query", item)
    assert (body["field"], body["scene"]) == codes


# --- feedback (§4.3) --------------------------------------------------------------------------


def test_the_feedback_id_is_the_envelopes_message_id():
    item = inputs("feedback-1") | {"message_id": "01HRZZZZZZZZZZZZZZZZZZZZZZ"}
    assert _body("feedback", item)["feedbackId"] == "01HRZZZZZZZZZZZZZZZZZZZZZZ"


def test_a_feedback_without_a_message_id_is_refused():
    item = inputs("feedback-1")
    del item["message_id"]
    with pytest.raises(MessageRejected, match=r"\[required\]"):
        _call("feedback", item)


def test_a_feedback_without_applied_measures_is_refused():
    item = inputs("feedback-1")
    item["payload"]["applied_measures"] = None
    with pytest.raises(MessageRejected, match=r"\[count\]"):
        _call("feedback", item)


def test_a_feedback_without_the_agency_is_refused():
    item = inputs("feedback-1")
    item["payload"]["agency"] = None
    with pytest.raises(MessageRejected, match=r"\[required\]"):
        _call("feedback", item)


def test_a_note_longer_than_500_characters_is_refused_not_truncated():
    item = inputs("feedback-1")
    item["payload"]["applied_measures"][0]["note"] = "说" * 500
    assert len(_body("feedback", item)["measures"][0]["zxqk"]) == 500
    item["payload"]["applied_measures"][0]["note"] = "说" * 501
    with pytest.raises(MessageRejected, match=r"\[length\]"):
        _call("feedback", item)


def test_a_measure_code_outside_the_table_is_refused():
    item = inputs("feedback-1")
    item["payload"]["applied_measures"][0]["code"] = "CJ999"
    with pytest.raises(MessageRejected, match=r"\[unknown_code\]"):
        _call("feedback", item)


def test_an_applied_time_in_another_zone_is_sent_in_beijing_time():
    item = inputs("feedback-1")
    item["payload"]["applied_measures"][0]["applied_at"] = "2024-03-08T08:00:00+00:00"
    assert _body("feedback", item)["measures"][0]["zxsj"] == "2024-03-08 16:00:00"


def test_a_feedback_outside_a_case_sends_an_empty_biz_no():
    body = _body("feedback", inputs("feedback-2"))
    assert body["bizNo"] == ""
    assert "uscc" not in body
    assert (body["idType"], body["idNumber"]) == ("111", "350102198806151233")


def test_a_feedback_with_an_invalid_canonical_party_is_refused_before_rendering():
    item = inputs("feedback-1")
    item["payload"]["party"]["uscc"] = None
    with pytest.raises(ValidationError):
        _call("feedback", item)
