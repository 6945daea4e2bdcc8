"""The quirks of README §4 and §7 through verify, prepare and the mappings; refusals name the
wire field and give the §5 reason, never a personal value."""

from __future__ import annotations

import json

import pytest

from adapters.online_hall import SPEC
from adapters.online_hall.simulator import (
    build_push,
    delivery_event,
    license_event,
    resident_id,
)
from runner.adapter_api import MessageRejected
from tests.adapters.online_hall.samples import config, dry_run, payload, raw_of

ID_NUMBER = resident_id("35032219680912071")


def _refusal(push) -> tuple[int, dict]:
    """The endpoint's answer to a request the mapping refuses: status and JSON body."""
    with pytest.raises(MessageRejected) as caught:
        dry_run(push)
    message = "license_webhook" if push.path.endswith("licenses") else "delivery_webhook"
    answer = SPEC.webhook_answer(message, raw_of(push), "rejected", caught.value, config())
    return answer.status, json.loads(answer.body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("20240305", "2024-03-05T00:00:00+08:00", id="yyyyMMdd"),
        pytest.param("20240305093000", "2024-03-05T09:30:00+08:00", id="yyyyMMddHHmmss"),
        pytest.param("2024-03-05", "2024-03-05T00:00:00+08:00", id="yyyy-MM-dd"),
        pytest.param("2024-03-05 09:30:00", "2024-03-05T09:30:00+08:00", id="yyyy-MM-dd HH:mm:ss"),
        pytest.param("1709602200000", "2024-03-05T09:30:00+08:00", id="epoch milliseconds"),
        pytest.param(1709602200000, "2024-03-05T09:30:00+08:00", id="epoch as a JSON number"),
    ],
)
def test_the_five_time_formats_are_read_as_shanghai_time(value: object, expected: str):
    assert payload(build_push(license_event(1, jdrq=value)))["decided_at"] == expected


@pytest.mark.parametrize("value", ["长期", "99991231", "9999-12-31", "", "null", "NULL"])
def test_open_ended_validity_has_no_valid_to(value: str):
    assert payload(build_push(license_event(1, yxqz=value)))["valid_to"] is None


def test_numeric_codes_are_padded_to_their_tables_width():
    event = license_event(1, xklb=5, sqrlx=1)
    assert payload(build_push(event))["kind"] == "registration"
    receipt = payload(build_push(delivery_event(1, wslx=3, sdzt=2, sdqd=1, sdrlx=1)))
    assert (receipt["document_kind"], receipt["status"], receipt["channel"]) == (
        "penalty_decision",
        "read",
        "app",
    )


def test_a_natural_persons_legacy_15_digit_id_number_is_upgraded():
    legacy = ID_NUMBER[:6] + ID_NUMBER[8:17]
    party = payload(build_push(license_event(1, natural_person=True, zjhm=legacy)))["party"]
    assert party["id_number"] == ID_NUMBER
    assert (party["kind"], party["uscc"], party["legal_representative"]) == (
        "natural_person",
        None,
        None,
    )


def test_full_width_lower_case_usccs_are_folded_and_names_trimmed():
    event = license_event(
        0, tyshxydm="９１３５０１００ｍａ２ｙ７ｋ３ｆ６１", sqrmc="福州闽江源食品有限公司\u3000 "
    )
    party = payload(build_push(event))["party"]
    assert (party["uscc"], party["name"]) == ("91350100MA2Y7K3F61", "福州闽江源食品有限公司")


def test_a_natural_persons_licence_is_l3_and_an_organisations_receipt_l1():
    [licence] = dry_run(build_push(license_event(1, natural_person=True))).envelopes
    [receipt] = dry_run(build_push(delivery_event(1))).envelopes
    assert (licence.classification, receipt.classification) == ("L3", "L1")
    assert receipt.case_code == "FJ3501002024SC82D2EBBB"


@pytest.mark.parametrize(
    ("event", "reason", "field"),
    [
        pytest.param(
            license_event(1, xkzbh=""),
            "missing required field",
            "xkzbh",
            id="an empty licence number",
        ),
        pytest.param(
            license_event(1, tyshxydm="null"),
            "missing required field",
            "tyshxydm",
            id="an organisation without a USCC",
        ),
        pytest.param(
            license_event(1, natural_person=True, zjhm="null"),
            "missing required field",
            "zjhm",
            id="a natural person without an id number",
        ),
        pytest.param(
            license_event(1, tyshxydm="91350100MA2Y7K3F62"),
            "bad USCC check character",
            "tyshxydm",
            id="a USCC with a wrong check character",
        ),
        pytest.param(
            license_event(1, xkjgdm="11350100MB0F22318F"),
            "bad USCC check character",
            "xkjgdm",
            id="an agency USCC with a wrong check character",
        ),
        pytest.param(
            license_event(1, natural_person=True, zjhm=ID_NUMBER[:17] + "0"),
            "bad ID number check digit",
            "zjhm",
            id="an id number with a wrong check digit",
        ),
        pytest.param(
            license_event(1, lydm="ABCD"),
            "unknown code value",
            "lydm",
            id="an unknown LYDM",
        ),
        pytest.param(
            license_event(1, xklb="07"),
            "unknown code value",
            "xklb",
            id="an unknown XKLB",
        ),
        pytest.param(
            license_event(1, jdrq="2024/03/05"),
            "bad date format",
            "jdrq",
            id="a date in no accepted format",
        ),
        pytest.param(
            delivery_event(1, sdzt="9"),
            "unknown code value",
            "sdzt",
            id="an unknown SDZT",
        ),
        pytest.param(
            delivery_event(1, sdrlx="4", tyshxydm="", zjlx="111", zjhm=ID_NUMBER[:17] + "0"),
            "bad ID number check digit",
            "zjhm",
            id="a recipient's bad id number",
        ),
        pytest.param(
            delivery_event(1, ztsj="20240231120000"),
            "bad date format",
            "ztsj",
            id="a day that does not exist",
        ),
        pytest.param(
            delivery_event(1, sfm="FJ35"),
            "invalid value",
            "sfm",
            id="a malformed 身份码",
        ),
    ],
)
def test_a_refused_event_gets_422_with_the_reason_and_the_wire_field(
    event,
    reason: str,
    field: str,
):
    status, body = _refusal(build_push(event))
    assert (status, body) == (422, {"code": "422", "msg": reason, "field": field})


def test_no_refusal_repeats_an_id_number():
    bad = ID_NUMBER[:17] + "0"
    push = build_push(delivery_event(1, sdrlx="4", tyshxydm="", zjlx="111", zjhm=bad))
    with pytest.raises(MessageRejected) as caught:
        dry_run(push)
    assert bad not in str(caught.value)
    assert bad[:14] not in str(caught.value)
