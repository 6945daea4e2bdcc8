"""The cases_page mapping beyond the samples: quirks Q1-Q10, the decision rules of §3.4, code
tables, error answers (§5) and hostile input, each through the whole inbound path."""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest

from runner.adapter_api import MessageRejected
from tests.adapters.health.samples import map_page, page, record

HUANG_ID = "350427197003121531"


def _payloads(document: Any, **kwargs: Any) -> list[dict[str, Any]]:
    result = map_page(document, **kwargs)
    assert result.rejected == []
    return [e.model_dump(mode="json")["payload"] for e in result.envelopes]


def _rejection(one: dict[str, Any]) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        map_page(page(one))
    return caught.value


def _decision(**changes: Any) -> dict[str, Any]:
    found = record("hengtai_v3")
    found["decision"] = {**found["decision"], **changes}
    return found


# --- quirks -----------------------------------------------------------------------------------


def test_q1_money_in_fen_as_numeric_strings_converts_exactly():
    one = record("huang_v2", involvedAmount="320001")
    one["decision"] = {**one["decision"], "fineAmount": "6000000", "confiscatedAmount": "1"}
    case, decision = _payloads(page(one))
    assert case["involved_amount_yuan"] == "3200.01"
    assert (decision["fine_amount_yuan"], decision["confiscated_amount_yuan"]) == (
        "60000.00",
        "0.01",
    )


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        (800.5, "money_precision"),
        ("12.5", "money_precision"),
        ("-100", "money_negative"),
        ("八百", "money_format"),
    ],
    ids=[
        "a JSON number with a fraction (read exactly, never as a float)",
        "a fraction of a fen",
        "a negative amount",
        "not a number",
    ],
)
def test_q1_an_amount_that_is_not_whole_fen_rejects_the_record(amount: Any, rule: str):
    error = _rejection(_decision(fineAmount=amount))
    assert (error.rule, error.field) == (rule, "payload.fine_amount_yuan")


def test_q2_legacy_epoch_seconds_read_as_the_same_instant():
    one = record("huang_v2", registerTime=1743987600, closeTime=1749110400)
    one["decision"] = {**one["decision"], "decisionTime": 1748880000}
    case, decision = _payloads(page(one))
    assert case["registered_at"] == "2025-04-07T09:00:00+08:00"
    assert case["closed_at"] == "2025-06-05T16:00:00+08:00"
    assert decision["decided_at"] == "2025-06-03T00:00:00+08:00"


def test_q7_an_answer_starting_with_a_utf8_bom_maps_as_without():
    body = codecs.BOM_UTF8 + json.dumps(page(record("lumei_v1")), ensure_ascii=False).encode()
    assert len(_payloads(body)) == 1


def test_q8_the_string_null_and_empty_strings_mean_absent():
    one = record("lumei_v1", closeTime="null", involvedAmount="")
    one["party"] = {**one["party"], "idType": "null", "address": "null", "legalPerson": ""}
    (case,) = _payloads(page(one))
    party = case["parties"][0]
    assert (case["closed_at"], case["involved_amount_yuan"]) == (None, None)
    assert (party["address"], party["legal_representative"], party["id_type"]) == (None, None, None)


def test_q8_null_words_for_a_decision_are_no_decision():
    assert len(_payloads(page(record("lumei_v1", decision="null")))) == 1


def test_q9_a_legacy_legal_basis_string_is_split_into_law_and_article():
    one = record(
        "lumei_v1",
        legalBasis="《医疗机构管理条例》第十四条；中华人民共和国基本医疗卫生与健康促进法第三十八条",
    )
    (case,) = _payloads(page(one))
    assert case["legal_basis"] == [
        {"law_name": "医疗机构管理条例", "article": "第十四条"},
        {"law_name": "中华人民共和国基本医疗卫生与健康促进法", "article": "第三十八条"},
    ]


def test_q9_a_law_name_without_marks_and_no_article_is_kept_as_is():
    one = record("lumei_v1", legalBasis=[{"lawName": "医疗机构管理条例", "article": None}])
    (case,) = _payloads(page(one))
    assert case["legal_basis"] == [{"law_name": "医疗机构管理条例", "article": None}]


def test_q10_a_legacy_15_digit_id_is_upgraded_and_a_lower_case_x_raised():
    one = record("huang_v2")
    one["party"] = {**one["party"], "idCard": "350427700312153"}
    assert _payloads(page(one))[0]["parties"][0]["id_number"] == "350427197003121531"
    one["party"] = {**one["party"], "idCard": "11010519491231002x"}
    assert _payloads(page(one))[0]["parties"][0]["id_number"] == "11010519491231002X"


def test_q10_a_full_width_uscc_is_folded_before_its_check():
    one = record("lumei_v1")
    one["party"] = {**one["party"], "creditCode": "９１３５０２０３ＭＡ３３ＦＭ６ＥＸＭ"}
    assert _payloads(page(one))[0]["parties"][0]["uscc"] == "91350203MA33FM6EXM"


def test_q6_a_numeric_id_keeps_all_19_digits():
    (case,) = _payloads(page(record("lumei_v1", id=1793118836455112706)))
    assert map_page(page(record("lumei_v1", id=1793118836455112706))).envelopes[
        0
    ].source_message_id == ("1793118836455112706:v1")
    assert case["source_case_no"] == "思卫立〔2025〕33号"


# --- parties (§3.3) ---------------------------------------------------------------------------


def test_a_person_without_an_id_type_has_a_resident_id():
    one = record("huang_v2")
    one["party"] = {**one["party"], "idType": None}
    assert _payloads(page(one))[0]["parties"][0]["id_type"] == "resident_id"


def test_a_persons_placeholder_credit_code_is_not_a_uscc():
    one = record("huang_v2")
    one["party"] = {**one["party"], "creditCode": "null", "legalPerson": "黄某强"}
    party = _payloads(page(one))[0]["parties"][0]
    assert (party["uscc"], party["legal_representative"]) == (None, None)


def test_a_wrong_id_number_is_rejected_without_repeating_it():
    one = record("huang_v2")
    one["party"] = {**one["party"], "idCard": HUANG_ID[:-1] + "2"}
    error = _rejection(one)
    assert (error.rule, error.field) == ("id_number_check", "payload.parties[0].id_number")
    assert HUANG_ID[:-1] not in str(error)


def test_an_organisation_with_a_bad_uscc_check_character_is_rejected():
    one = record("lumei_v1")
    one["party"] = {**one["party"], "creditCode": "91350203MA33FM6EXA"}
    assert _rejection(one).rule == "uscc_check"


# --- decisions (§3.4) -------------------------------------------------------------------------


def test_suspend_practice_and_suspend_license_are_one_penalty_kind_in_source_order():
    one = _decision(penaltyTypes=["SUSPEND_PRACTICE", "FINE", "SUSPEND_LICENSE", "FINE"])
    decision = _payloads(page(one))[1]
    assert decision["penalty_kinds"] == ["suspend_license", "fine"]


def test_an_affected_licence_is_named_in_license_affected():
    one = _decision(
        licenseAffected=True, licenseName="医疗机构执业许可证（PDY12345635010217A1002）"
    )
    assert _payloads(page(one))[1]["license_affected"] == (
        "医疗机构执业许可证（PDY12345635010217A1002）"
    )


def test_an_affected_licence_without_its_name_rejects_the_record():
    error = _rejection(_decision(licenseAffected=True, licenseName=None))
    assert (error.rule, error.field) == ("required", "payload.license_affected")


def test_license_affected_as_text_rather_than_a_boolean_rejects_the_record():
    error = _rejection(_decision(licenseAffected="是"))
    assert (error.rule, error.field) == ("boolean_format", "licenseAffected")


def test_a_decision_without_a_penalty_kind_rejects_the_record():
    assert _rejection(_decision(penaltyTypes=[])).field == "payload.penalty_kinds"


# --- code tables and required fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "ARCHIVED"}, "status"),
        ({"source": "HOTLINE"}, "source"),
        ({"procedure": "FAST"}, "procedure"),
        ({"category": "FOOD"}, "category"),
    ],
    ids=["status", "source", "procedure", "category (checked though not mapped)"],
)
def test_a_code_outside_its_table_rejects_the_record_naming_the_field(
    changes: dict[str, Any], field: str
):
    error = _rejection(record("lumei_v1", **changes))
    assert (error.rule, error.field) == ("unknown_code", field)
    assert error.system == "health"
    assert error.message == "cases_page"


def test_an_unknown_penalty_type_rejects_the_record():
    error = _rejection(_decision(penaltyTypes=["WARNING", "BAN"]))
    assert (error.rule, error.field) == ("unknown_code", "payload.penalty_kinds")


def test_fewer_than_two_officers_rejects_the_record():
    one = record("lumei_v1")
    one["officers"] = one["officers"][:1]
    error = _rejection(one)
    assert (error.rule, error.field) == ("count", "payload.officers")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"id": "1793118836455112706.0"}, "id", "id_format"),
        ({"version": 0}, "version", "whole_number_range"),
        ({"version": "2"}, "version", "whole_number"),
        ({"caseNo": ""}, "caseNo", "required"),
        ({"registerTime": "2025-06-05"}, "registerTime", "epoch_format"),
    ],
    ids=["a float-like id", "version 0", "a version as text", "no case number", "an ISO date"],
)
def test_a_broken_record_key_rejects_the_record(changes: dict[str, Any], field: str, rule: str):
    error = _rejection(record("lumei_v1", **changes))
    assert (error.field, error.rule) == (field, rule)


def test_one_bad_record_of_a_page_is_rejected_alone():
    result = map_page(page(record("yuezu_v1"), record("lumei_v1", status="ARCHIVED")))
    assert [e.source_message_id for e in result.envelopes] == ["1790231845512740865:v1"]
    assert [(r.field, r.rule) for r in result.rejected] == [("status", "unknown_code")]


# --- error answers (§5) -----------------------------------------------------------------------


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "timestamp": 1749111000000}


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (429, _error(42901, "请求过于频繁"), {"retry-after": "3"}, ("batch_retry", "42901", 3)),
        (500, _error(50000, "系统内部错误"), {}, ("batch_retry", "50000", None)),
        (503, b"<html><body>maintenance</body></html>", {}, ("batch_retry", "HTTP503", None)),
        (502, b"<html>bad gateway</html>", {"retry-after": "120"}, ("batch_retry", "HTTP502", 120)),
        (
            400,
            _error(40001, "参数错误: updatedSince/page/size"),
            {},
            ("batch_failed", "40001", None),
        ),
        (401, _error(40101, "API Key 无效"), {}, ("batch_failed", "40101", None)),
        (403, _error(40301, "客户端证书未授权"), {}, ("batch_failed", "40301", None)),
        (404, b"<html>not found</html>", {}, ("batch_failed", "HTTP404", None)),
    ],
    ids=["429", "500", "503 HTML", "502 HTML with Retry-After", "400", "401", "403", "404 HTML"],
)
def test_an_error_answer_gives_its_delivery_outcome(
    status: int, body: Any, headers: dict[str, str], expected: tuple[str, str, int | None]
):
    result = map_page(body, status=status, headers=headers)
    assert result.envelopes == []
    assert result.outcome is not None
    got = result.outcome.model_dump(mode="json")
    assert (got["outcome"], got["code"], got["retry_after_s"], got["records"]) == (*expected, [])


# --- hostile and malformed input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b'{"code":200,"data":{"content":[', "malformed_json"),
        (b"\xff\xfe{}", "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b'{"code":200,"message":"success","data":{}}', "malformed_page"),
        (b'{"code":200,"data":{"content":"x"}}', "malformed_page"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed_json"),
        (
            b'{"code":200,"data":{"content":[]},"pad":"' + b"x" * (9 * 1024 * 1024) + b'"}',
            "too_large",
        ),
    ],
    ids=[
        "truncated",
        "undecodable",
        "not an object",
        "no content",
        "content not a list",
        "nested 100000 deep",
        "over 8 MiB",
    ],
)
def test_malformed_answers_are_rejected_with_a_rule_not_a_traceback(body: bytes, rule: str):
    with pytest.raises(MessageRejected) as caught:
        map_page(body)
    assert caught.value.rule == rule
    assert caught.value.system == "health"
