"""Value rules and rejections of the inbound mappings and of SPEC.prepare (README §3, §5, §6)."""

from __future__ import annotations

import pytest

from adapters.drug_admin import SPEC, DrugAdminConfig, prepare
from adapters.drug_admin._dataset import sample_penalties
from adapters.drug_admin.simulator import penalties_envelope, result_xml
from runner.adapter_api import MessageRejected, RawMessage
from tests.adapters.drug_admin._support import at, mapped, sample

DEMO = DrugAdminConfig.model_validate(dict(SPEC.demo_config))
ID_NUMBER = "350212197105031398"


def _inspections(old: str, new: str, name: str = "query_inspections-1.xml") -> bytes:
    body = sample(name).decode()
    assert old in body
    return body.replace(old, new, 1).encode()


def _penalties(old: str, new: str, name: str = "query_penalties-1.xml") -> bytes:
    return _inspections(old, new, name)


def _single_penalty(**changes: object) -> bytes:
    record = sample_penalties()[1]  # the natural person of query_penalties-1
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return penalties_envelope(
        result_xml([record], at(2024, 3, 6).replace(tzinfo=None)), 1, 1, 100, False
    )


def test_a_record_repeated_inside_a_page_is_mapped_once():
    body = sample("query_inspections-1.xml").decode()
    start = body.index("<ns2:Inspection>")
    end = body.index("</ns2:Inspection>") + len("</ns2:Inspection>")
    doubled = body[:end] + body[start:end] + body[end:]
    result = mapped("query_inspections", doubled.encode())
    assert [e.source_message_id for e in result.envelopes] == [
        "JCJL-2024-000871#1",
        "JCJL-2024-000874#1",
    ]


def test_a_penalty_repeated_inside_result_xml_is_mapped_once():
    records = sample_penalties()[:2]
    body = penalties_envelope(
        result_xml([records[0], records[0], records[1]], at(2024, 3, 6)), 3, 1, 100, False
    )
    result = mapped("query_penalties", body)
    assert [e.source_message_id for e in result.envelopes] == [
        "CFJD-2024-000312#1",
        "CFJD-2024-000318#1",
    ]


def test_prepare_leaves_a_page_without_repeats_untouched():
    raw = RawMessage(sample("query_penalties-1.xml"))
    assert prepare("query_penalties", raw, DEMO) is raw.body


def test_result_xml_in_cdata_maps_like_the_escaped_one():
    records = sample_penalties()[:2]
    document = result_xml(records, at(2024, 3, 6))
    escaped = mapped("query_penalties", penalties_envelope(document, 2, 1, 100, False))
    cdata = mapped("query_penalties", penalties_envelope(document, 2, 1, 100, False, cdata=True))
    assert [e.payload for e in cdata.envelopes] == [e.payload for e in escaped.envelopes]
    assert len(cdata.envelopes) == 2


def test_has_more_written_as_digits_is_read():
    body = _inspections("<ns2:HasMore>false</ns2:HasMore>", "<ns2:HasMore>0</ns2:HasMore>")
    assert len(mapped("query_inspections", body).envelopes) == 2


def test_an_inspect_time_with_milliseconds_and_zone_drops_the_fraction():
    body = _inspections(
        "2024-03-05T09:00:00</ns2:InspectTime>", "2024-03-05T09:00:00.357+08:00</ns2:InspectTime>"
    )
    first = mapped("query_inspections", body).envelopes[0]
    assert first.payload.inspected_at.isoformat() == "2024-03-05T09:00:00+08:00"


def test_a_full_width_lower_case_uscc_is_folded_before_the_check():
    body = _inspections(
        "<ns2:EntCreditCode>91350121MA2XU1N62T", "<ns2:EntCreditCode>９１３５０１２１ma2xu1n62t"
    )
    assert (
        mapped("query_inspections", body).envelopes[0].payload.target.uscc == "91350121MA2XU1N62T"
    )


def test_a_fifteen_digit_resident_id_is_upgraded_to_eighteen():
    result = mapped("query_penalties", _single_penalty(IdNo="350212710503139"))
    assert result.envelopes[0].payload.party.id_number == "350212197105031398"


def test_an_empty_id_type_of_a_natural_person_is_a_resident_id():
    result = mapped("query_penalties", _single_penalty(IdType=""))
    assert result.envelopes[0].payload.party.id_type == "resident_id"
    assert result.envelopes[0].classification == "L3"


@pytest.mark.parametrize("word", ["null", "NULL", "Null", "nUlL", "  "])
def test_the_text_null_in_any_case_is_absent(word: str):
    result = mapped("query_penalties", _single_penalty(Address=word))
    assert result.envelopes[0].payload.party.address is None


def test_a_fine_of_zero_fen_is_no_fine_and_fen_convert_exactly():
    result = mapped("query_penalties", _single_penalty(FineFen="0", ConfiscatedFen="23541237"))
    payload = result.envelopes[0].payload
    assert payload.fine_amount_yuan is None
    assert str(payload.confiscated_amount_yuan) == "235412.37"


def test_an_older_register_date_with_dashes_gives_the_same_case_code():
    plain = mapped("query_penalties", _single_penalty()).envelopes[0].case_code
    dashed = (
        mapped("query_penalties", _single_penalty(RegisterDate="2024-01-12")).envelopes[0].case_code
    )
    assert plain == dashed == "FJ3502002024YP8C8C8DA9"


def test_a_case_code_sent_with_a_penalty_is_kept_as_sent():
    result = mapped("query_penalties", _single_penalty(CaseCode="FJ3502002024SC1A2B3C4D"))
    assert result.envelopes[0].case_code == "FJ3502002024SC1A2B3C4D"
    assert result.envelopes[0].payload.case_code == "FJ3502002024SC1A2B3C4D"


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        pytest.param(
            {"IdNo": ID_NUMBER[:-1] + "0"},
            "payload.party.id_number",
            "id_number_check",
            id="bad ID check digit",
        ),
        pytest.param(
            {"PenaltyKinds": ["01", "13"]},
            "payload.penalty_kinds",
            "unknown_code",
            id="kind outside T8",
        ),
        pytest.param(
            {"PartyType": "7"}, "payload.party.kind", "unknown_code", id="party type outside T3"
        ),
        pytest.param(
            {"IdType": "05"}, "payload.party.id_type", "unknown_code", id="id type outside T5"
        ),
        pytest.param({"Facts": None}, "payload.facts", "required", id="missing facts"),
        pytest.param(
            {"IdNo": "null"}, "payload.party.id_number", "required", id="natural person without ID"
        ),
        pytest.param({"IllegalBasis": []}, "payload.legal_basis", "required", id="no legal basis"),
        pytest.param(
            {"DecisionDate": "2024/03/06"}, "decided_at", "datetime_format", id="bad decision date"
        ),
        pytest.param(
            {"ProductCategory": None}, "category", "required", id="missing product category"
        ),
    ],
)
def test_a_bad_single_penalty_is_rejected_naming_field_and_rule(changes, field, rule):
    with pytest.raises(MessageRejected) as raised:
        mapped("query_penalties", _single_penalty(**changes))
    error = raised.value
    assert (error.system, error.message, error.field, error.rule) == (
        "drug_admin",
        "query_penalties",
        field,
        rule,
    )
    assert ID_NUMBER[:14] not in str(error)


def test_a_bad_record_of_a_page_is_rejected_alone_and_the_others_map():
    body = _penalties(
        "&lt;CreditCode&gt;91350121MA2XU1N62T", "&lt;CreditCode&gt;91350121MA2XU1N62X"
    )
    result = mapped("query_penalties", body)
    assert [e.source_message_id for e in result.envelopes] == ["CFJD-2024-000318#1"]
    [rejected] = result.rejected
    assert (rejected.field, rejected.rule) == ("payload.party.uscc", "uscc_check")
    assert "record 1 of 2" in rejected.reason


def test_an_unknown_conclusion_rejects_the_inspection():
    body = _inspections("<ns2:Conclusion>2</ns2:Conclusion>", "<ns2:Conclusion>7</ns2:Conclusion>")
    [rejected] = mapped("query_inspections", body).rejected
    assert (rejected.field, rejected.rule) == ("payload.result", "unknown_code")


def test_case_no_without_register_date_rejects_the_inspection():
    body = _inspections(
        "<ns2:CaseRegisterDate>2024-03-07</ns2:CaseRegisterDate>", "", "query_inspections-2.xml"
    )
    [rejected] = mapped("query_inspections", body).rejected
    assert rejected.rule == "required"


def test_a_dtd_inside_result_xml_is_refused_without_expanding_it():
    inner = (
        '<!DOCTYPE PenaltyList [<!ENTITY x "boom">]><PenaltyList><Penalty><RecordId>&x;'
        "</RecordId></Penalty></PenaltyList>"
    )
    body = penalties_envelope(inner, 1, 1, 100, False)
    with pytest.raises(MessageRejected) as raised:
        mapped("query_penalties", body)
    assert raised.value.rule == "xml_dtd"
    assert "boom" not in str(raised.value)


def test_a_dtd_in_the_envelope_is_refused():
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><x>&a;</x>'
    with pytest.raises(MessageRejected) as raised:
        mapped("query_inspections", body)
    assert raised.value.rule == "xml_dtd"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        pytest.param(
            b"<soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope'><soap:Body>",
            "malformed_xml",
            id="truncated",
        ),
        pytest.param(b"\xff\xfe\x00<", "malformed_xml", id="undecodable"),
        pytest.param(b"<a>" + b"x" * (9 * 1024 * 1024) + b"</a>", "too_large", id="huge"),
    ],
)
def test_bad_bytes_are_rejected_with_a_rule_not_a_traceback(body: bytes, rule: str):
    with pytest.raises(MessageRejected) as raised:
        mapped("query_penalties", body)
    assert raised.value.rule == rule


def test_result_code_3001_is_a_failed_batch():
    body = _inspections(
        "<ns2:ResultCode>0</ns2:ResultCode>", "<ns2:ResultCode>3001</ns2:ResultCode>"
    )
    outcome = mapped("query_inspections", body).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code) == ("batch_failed", "3001")


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("E1001", "batch_failed"),
        ("E1002", "batch_failed"),
        ("E1003", "batch_retry"),
        ("E2002", "batch_failed"),
        ("E5000", "batch_retry"),
    ],
)
def test_each_fault_error_code_has_its_outcome(code: str, outcome: str):
    body = sample("query_inspections-4.xml").replace(b"E5003", code.encode())
    result = mapped("assign_joint_task_response", body).outcome
    assert result is not None
    assert (result.outcome, result.code) == (outcome, code)


def test_a_fault_without_detail_is_labelled_with_its_code():
    body = (
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>'
        b"<soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason><soap:Text>x"
        b"</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>"
    )
    outcome = mapped("assign_joint_task_response", body).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code) == ("batch_retry", "FAULT:Receiver")


@pytest.mark.parametrize("code", ["2001", "2003", "2005"])
def test_task_result_codes_that_fail_carry_no_records(code: str):
    body = sample("assign_joint_task_response-1.xml").replace(
        b"<ns2:ResultCode>0<", f"<ns2:ResultCode>{code}<".encode()
    )
    outcome = mapped("assign_joint_task_response", body).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.code, outcome.records) == ("batch_failed", code, [])


def test_an_unknown_task_result_code_is_rejected_not_reported():
    body = sample("assign_joint_task_response-1.xml").replace(
        b"<ns2:ResultCode>0<", b"<ns2:ResultCode>42<"
    )
    with pytest.raises(MessageRejected) as raised:
        mapped("assign_joint_task_response", body)
    assert raised.value.rule == "unknown_code"
