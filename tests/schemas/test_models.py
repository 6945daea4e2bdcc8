"""Rules of the canonical models beyond field types: strictness, parties, envelopes, outcomes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import DeliveryOutcome, Party, describe, parse_envelope
from schemas.payloads.penalty_decision import PenaltyDecision
from tests.conftest import SPECS

PENALTY = json.loads(
    (SPECS / "systems/eco_env/samples/get_penalty_decision_response-1.expected.json").read_bytes()
)
NATURAL = json.loads((SPECS / "systems/credit_fj/samples/penalty_push-1.input.json").read_bytes())[
    1
]
SENSITIVE_NOTICE = json.loads(
    (SPECS / "systems/two_laws/samples/fetch_notices_response-1.expected.json").read_bytes()
)[0]


def _errors(data: Any, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        parse_envelope(data, draft=True, **kwargs)
    return caught.value.errors()


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    return data


def test_an_unknown_field_is_an_error_with_its_path():
    errors = _errors(_with(PENALTY, "payload.party.nickname", "x"))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("payload", "party", "nickname"), "extra_forbidden")
    ]


def test_a_wrong_type_is_an_error_not_a_coercion():
    errors = _errors(_with(PENALTY, "payload.decision_no", 123))
    assert errors[0]["loc"] == ("payload", "decision_no")
    assert errors[0]["type"] == "string_type"


def test_a_failed_uscc_check_names_the_field_and_the_rule():
    errors = _errors(_with(PENALTY, "payload.party.uscc", "91350521MA345T8L5Q"))
    assert errors[0]["loc"] == ("payload", "party", "uscc")
    assert errors[0]["type"] == "uscc_check"
    assert "expected 'P'" in errors[0]["msg"]


def test_an_unknown_schema_is_rejected_with_the_known_ones_listed():
    errors = _errors(_with(PENALTY, "schema", "enforcement.penalty.v9"))
    assert errors[0]["type"] == "unknown_schema"
    assert "enforcement.penalty_decision.v1" in errors[0]["msg"]


def test_a_schema_that_does_not_name_the_payload_is_rejected():
    data = _with(PENALTY, "schema", "enforcement.case.v1")
    assert _errors(data)  # the case model refuses the penalty payload


def test_a_classification_lower_than_the_payload_is_rejected():
    errors = _errors(_with(PENALTY, "classification", "L1"))
    assert errors[0]["type"] == "envelope_classification"
    assert "L2" in errors[0]["msg"]


def test_a_natural_person_lifts_the_classification_to_l3():
    assert NATURAL["classification"] == "L3"
    assert parse_envelope(NATURAL, draft=True).classification == "L3"
    assert _errors(_with(NATURAL, "classification", "L2"))[0]["type"] == ("envelope_classification")


def test_an_organisation_with_no_l2_field_is_l1():
    data = _with(PENALTY, "payload.facts", None)
    data = _with(data, "payload.party.legal_representative", None)
    data["classification"] = "L1"
    assert parse_envelope(data, draft=True).classification == "L1"


def test_the_content_of_a_sensitive_notice_is_l4():
    assert SENSITIVE_NOTICE["payload"]["sensitive"] is True
    assert parse_envelope(SENSITIVE_NOTICE, draft=True).classification == "L4"
    relaxed = _with(SENSITIVE_NOTICE, "payload.sensitive", False)
    assert _errors(relaxed)[0]["type"] == "envelope_classification"


def test_a_payload_case_code_must_equal_the_envelopes():
    errors = _errors(_with(PENALTY, "case_code", "FJ3505212025HJ00000000"))
    assert errors[0]["type"] == "envelope_case_code"


def test_a_stamped_envelope_requires_the_bus_fields():
    assert parse_envelope(PENALTY, draft=True).message_id is None
    with pytest.raises(ValidationError) as caught:
        parse_envelope(PENALTY)
    missing = {e["loc"][0] for e in caught.value.errors() if e["type"] == "missing"}
    assert missing == {"message_id", "causation_id", "occurred_at", "received_at"}


def _party(**fields: Any) -> dict[str, Any]:
    base = {
        "kind": "legal_person",
        "name": "福州闽江源食品有限公司",
        "uscc": "91350100MA2Y7K3F61",
        "id_type": None,
        "id_number": None,
        "legal_representative": None,
        "address": None,
        "division_code": None,
    }
    return base | fields


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        pytest.param({"uscc": None}, "party_uscc_required", id="an organisation needs a uscc"),
        pytest.param(
            {"kind": "natural_person"}, "party_natural_uscc", id="a natural person has no uscc"
        ),
        pytest.param(
            {"uscc": "00000000000000000X"},
            "uscc_placeholder",
            id="the placeholder is refused for a legal person",
        ),
        pytest.param(
            {"kind": "individual_business", "uscc": "00000000000000000X"},
            "registration_no_required",
            id="the placeholder needs a registration number",
        ),
        pytest.param(
            {
                "kind": "natural_person",
                "uscc": None,
                "id_type": "resident_id",
                "id_number": "350427197511203155",
            },
            "id_number_check",
            id="a resident id with a wrong check digit is refused",
        ),
        pytest.param({"division_code": "359999"}, "division_code", id="an invented division"),
    ],
)
def test_party_rules(fields: dict[str, Any], rule: str):
    with pytest.raises(ValidationError) as caught:
        Party.model_validate(_party(**fields))
    assert rule in {e["type"] for e in caught.value.errors()}


def test_an_individual_business_placeholder_with_registration_number_is_accepted():
    party = Party.model_validate(
        _party(
            kind="individual_business", uscc="00000000000000000X", registration_no="350100600123456"
        )
    )
    assert party.registration_no == "350100600123456"


def test_a_15_digit_resident_id_is_stored_upgraded():
    party = Party.model_validate(
        _party(
            kind="natural_person",
            name="王五福",
            uscc=None,
            id_type="resident_id",
            id_number="350427751120315",
        )
    )
    assert party.id_number == "350427197511203154"


def test_a_passport_number_is_not_checked_as_a_resident_id():
    party = Party.model_validate(
        _party(
            kind="natural_person",
            name="John Smith",
            uscc=None,
            id_type="passport",
            id_number="E12345678",
        )
    )
    assert party.id_number == "E12345678"


def test_text_is_nfc_normalised_and_trimmed():
    party = Party.model_validate(_party(name="  Cafe\u0301 福州  "))
    assert party.name == "Café 福州"


def test_a_repeated_penalty_kind_is_refused():
    payload = copy.deepcopy(PENALTY["payload"]) | {"penalty_kinds": ["fine", "warning", "fine"]}
    with pytest.raises(ValidationError) as caught:
        PenaltyDecision.model_validate(payload)
    assert caught.value.errors()[0]["type"] == "list_repeat"


def test_a_law_name_in_title_marks_is_refused():
    data = _with(
        PENALTY, "payload.legal_basis", [{"law_name": "《环境影响评价法》", "article": None}]
    )
    assert _errors(data)[0]["type"] == "law_name_marks"


@pytest.mark.parametrize(
    ("outcome", "rule"),
    [
        pytest.param(
            {
                "outcome": "complete",
                "code": None,
                "retry_after_s": None,
                "records": [{"index": 0, "status": "rejected", "record_id": None, "code": "E1"}],
            },
            "outcome_complete",
            id="complete with a rejected record",
        ),
        pytest.param(
            {
                "outcome": "batch_retry",
                "code": "HTTP503",
                "retry_after_s": 30,
                "records": [{"index": 0, "status": "retry", "record_id": None, "code": None}],
            },
            "outcome_records",
            id="batch_retry with records",
        ),
        pytest.param(
            {
                "outcome": "partial",
                "code": None,
                "retry_after_s": None,
                "records": [
                    {"index": 1, "status": "accepted", "record_id": None, "code": None},
                    {"index": 0, "status": "rejected", "record_id": None, "code": None},
                ],
            },
            "outcome_records_order",
            id="records out of index order",
        ),
    ],
)
def test_delivery_outcome_rules(outcome: dict[str, Any], rule: str):
    with pytest.raises(ValidationError) as caught:
        DeliveryOutcome.model_validate(outcome)
    assert caught.value.errors()[0]["type"] == rule


def test_error_descriptions_never_echo_an_id_number():
    number = "350427197511203155"
    data = _with(NATURAL, "payload.party.id_number", number)
    with pytest.raises(ValidationError) as caught:
        parse_envelope(data, draft=True)
    lines = describe(caught.value)
    assert lines == [
        "payload.party.id_number: resident ID number fails the GB 11643-1999 MOD 11-2 check "
        "character [id_number_check]"
    ]
    assert number not in "".join(lines)
