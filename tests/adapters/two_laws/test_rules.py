"""The spec's rules: what is refused, which quirks are accepted, how answers become outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.two_laws import entry_due, threshold_flags
from adapters.two_laws.simulator import (
    Notice,
    fault_document,
    notice_page_document,
    submit_result_document,
)
from runner.adapter_api import MessageRejected
from tests.adapters.two_laws._support import (
    PROJECT,
    mapped,
    outcome,
    render,
    sample,
    sample_json,
    unstamped,
    wire,
    wire_text,
)

ORG = "11350200MB1C034749"
FACTS = {"orgCode": ORG, "sinceSeq": "1040"}


def _case(**payload: Any) -> dict[str, Any]:
    item = sample_json("submit_case-1.input.json")
    item["payload"].update(payload)
    return item


def _transfer(name: str = "submit_case-2.input.json", **payload: Any) -> dict[str, Any]:
    item = sample_json(name)
    item["payload"].update(payload)
    return item


def _rejected(item: dict[str, Any], message: str = "submit_case") -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        render(message, item)
    return caught.value


# --- submit_case: infoType 01 ---------------------------------------------------------------


def test_a_case_without_a_closing_time_sends_an_empty_jasj_element():
    body = render("submit_case", _case()).body
    assert b"<lf:jasj/>" in body
    assert wire_text(body, "caseInfo/jasj") == ""


def test_a_case_without_an_amount_sends_zero_yuan():
    body = render("submit_case", _case(involved_amount_yuan=None, violation_type="销售假药")).body
    assert wire_text(body, "caseInfo/sajz") == "0.00"


@pytest.mark.parametrize(
    ("violation", "amount", "expected"),
    [
        pytest.param(
            "销售不合格产品", "50000.00", ("生产、销售伪劣产品罪", "1", "100.00"), id="at"
        ),
        pytest.param(
            "未取得采矿许可证擅自采矿",
            "123456.78",
            ("非法采矿罪", "1", "123.46"),
            id="above, half-up",
        ),
        pytest.param(
            "销售不合格产品", "40000.00", ("生产、销售伪劣产品罪", "2", "80.00"), id="80%"
        ),
        pytest.param("销售假药", "10.00", ("销售假药罪", "3", None), id="conduct"),
        pytest.param(
            "销售不合格产品",
            "39999.99",
            ("生产、销售伪劣产品罪", None, "80.00"),
            id="below 80% (half-up ratio, no flag)",
        ),
        pytest.param("无证经营", "90000.00", (None, None, None), id="no row"),
    ],
)
def test_threshold_flags_follow_the_table_of_section_3_2(violation, amount, expected):
    flags = threshold_flags(violation, amount)
    assert (flags["xyzm"], flags["zsbz"], flags["zsbl"]) == expected


def test_a_conduct_based_case_is_flagged_3_with_an_empty_ratio():
    body = render("submit_case", _case(violation_type="用非食品原料生产食品")).body
    assert wire_text(body, "caseInfo/zsbz") == "3"
    assert wire_text(body, "caseInfo/zsbl") == ""
    assert wire_text(body, "caseInfo/xyzm") == "生产、销售有毒、有害食品罪"


@pytest.mark.parametrize(
    ("violation", "amount", "due"),
    [
        ("销售不合格产品", "42000.00", True),
        ("销售不合格产品", "39000.00", False),
        ("销售假药", None, True),
        ("无证经营", "900000.00", False),
    ],
)
def test_a_first_entry_is_due_only_from_80_percent_or_for_conduct_offences(violation, amount, due):
    assert entry_due({"violation_type": violation, "involved_amount_yuan": amount}) is due


def test_facts_longer_than_4000_characters_are_refused():
    error = _rejected(_case(facts="违" * 4001))
    assert (error.field, error.rule) == ("submitCaseInfo.caseInfo.ajqk", "max_length")


def test_a_natural_person_is_sent_unmasked_with_id_type_and_number():
    person = {
        "kind": "natural_person", "name": "李四妹", "uscc": None, "id_type": "resident_id",
        "id_number": "350583199203082464", "legal_representative": None,
        "address": "福建省泉州市南安市溪美街道成功街36号", "division_code": None,
    }  # fmt: skip
    item = _case(parties=[person])
    item["classification"] = "L3"
    body = render("submit_case", item).body
    assert wire_text(body, "dsr/mc") == "李四妹"
    assert (wire_text(body, "dsr/zjlx"), wire_text(body, "dsr/zjhm")) == (
        "111",
        "350583199203082464",
    )
    assert wire_text(body, "dsr/dsrlx") == "4"


def test_a_natural_person_without_an_id_number_is_refused():
    person = {"kind": "natural_person", "name": "李四妹", "uscc": None, "id_type": None,
              "id_number": None, "legal_representative": None, "address": None,
              "division_code": None}  # fmt: skip
    item = _case(parties=[person])
    item["classification"] = "L2"
    error = _rejected(item)
    assert (error.field, error.rule) == ("submitCaseInfo.caseInfo.dsrList.dsr[0].zjlx", "required")


def test_a_case_without_parties_is_refused():
    error = _rejected(_case(parties=[]))
    assert (error.field, error.rule) == ("submitCaseInfo.caseInfo.dsrList", "required")


# --- submit_case: infoType 02 / 03 ----------------------------------------------------------


@pytest.mark.parametrize("status", ["proposed", "approved", "refused"])
def test_statuses_before_the_transfer_are_not_sent(status: str):
    item = _transfer(status=status)
    assert _rejected(item).rule == "not_accepted"
    mapping = PROJECT.outbound_mapping("two_laws", "submit_case")
    with pytest.raises(MessageRejected) as caught:  # even when a route skips the accepts rule
        mapping.render([item])
    assert caught.value.rule == "unknown_code"
    assert "two_laws/info_type" in caught.value.reason


def test_a_transfer_without_its_sending_agency_is_refused():
    error = _rejected(_transfer(from_agency=None))
    assert (error.field, error.rule) == ("submitCaseInfo.orgCode", "required")


def test_an_admin_to_criminal_transfer_without_its_rule_is_refused():
    error = _rejected(_transfer(triggered_by=None))
    assert (error.field, error.rule) == ("submitCaseInfo.transferInfo.cfgz", "required")


def test_a_status_delta_omits_every_element_whose_source_is_null():
    body = render("submit_case", sample_json("submit_case-3.input.json")).body
    for name in ("orgCode", "ysjgmc", "ysjgdm", "cfgz", "cfsj", "zjList"):
        assert wire(body, name) is None, name
    assert wire_text(body, "infoType") == "03"


def test_a_status_delta_with_its_agency_sends_the_org_code():
    agency = sample_json("submit_case-2.input.json")["payload"]["from_agency"]
    body = render("submit_case", _transfer("submit_case-3.input.json", from_agency=agency)).body
    assert wire_text(body, "orgCode") == ORG
    assert wire_text(body, "transferInfo/ysjgdm") == ORG


def test_a_reverse_transfer_is_an_02_in_direction_2_with_status_70():
    police = {"name": "厦门市公安局", "uscc": "113502000036405678", "division_code": "350200",
              "domain": None}  # fmt: skip
    item = _transfer(
        direction="criminal_to_admin",
        from_agency=police,
        to_organ={"name": "厦门市生态环境局", "kind": "admin_agency"},
        triggered_by=None,
        history=[
            {
                "status": "transferred",
                "at": "2024-04-01T10:00:00+08:00",
                "by": "厦门市公安局",
                "note": None,
            }
        ],
    )
    body = render("submit_case", item).body
    assert (wire_text(body, "infoType"), wire_text(body, "transferInfo/ysfx")) == ("02", "2")
    assert wire_text(body, "transferInfo/yszt") == "70"
    assert wire_text(body, "lsjl/jl/zt") == "70"
    assert wire_text(body, "transferInfo/jsjglx") == "4"


def test_figures_without_a_threshold_leave_it_empty():
    triggered = {"rule_id": "R1", "figures": {"sales_yuan": "86000.00", "days": "3",
                                               "threshold_sales_yuan": "50000.00"}}  # fmt: skip
    body = render("submit_case", _transfer(triggered_by=triggered)).body
    assert wire_text(body, "transferInfo/cfsj") == "sales_yuan=86000.00/50000.00;days=3/"


def test_a_document_without_a_number_has_no_wsh_element():
    documents = [{"kind": "other", "name": "现场检查（勘察）笔录"},
                 {"kind": "items_list", "name": "涉案物品清单"}]  # fmt: skip
    body = render("submit_case", _transfer(documents=documents)).body
    ws_list = wire(body, "wsList")
    assert ws_list is not None
    assert [[c.text for c in ws] for ws in ws_list] == [
        ["99", "现场检查（勘察）笔录"], ["03", "涉案物品清单"]
    ]  # fmt: skip


# --- fetch_notices_request ------------------------------------------------------------------


def test_a_lower_case_full_width_org_code_is_folded_before_it_is_sent():
    call = render("fetch_notices_request", {"org_code": "１１350200mb1c034749", "since_seq": 0})
    assert wire_text(call.body, "orgCode") == ORG
    assert wire_text(call.body, "sinceSeq") == "0"


@pytest.mark.parametrize(
    ("item", "rule"),
    [
        pytest.param(
            {"org_code": "11350200MB1C034748", "since_seq": 0},
            "uscc_check",
            id="a bad check character",
        ),
        pytest.param({"org_code": ORG, "since_seq": -1}, "since_seq", id="a negative sequence"),
        pytest.param({"org_code": ORG, "since_seq": None}, "required", id="no sequence"),
    ],
)
def test_a_fetch_request_the_spec_forbids_is_refused(item: dict[str, Any], rule: str):
    assert _rejected(item, "fetch_notices_request").rule == rule


# --- answers → delivery outcomes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("1001", "batch_failed"), ("1002", "batch_retry"), ("1003", "batch_failed"),
        ("2001", "batch_failed"), ("2002", "batch_failed"), ("2004", "batch_failed"),
        ("9001", "batch_retry"), ("9002", "batch_retry"),
    ],
)  # fmt: skip
def test_a_submit_error_code_gives_the_outcome_of_section_6(code: str, kind: str):
    got = outcome("submit_case_response", submit_result_document(code))
    assert got == {"outcome": kind, "code": code, "retry_after_s": None, "records": []}


def test_a_resubmission_answered_1_is_complete_with_the_stored_case_number():
    got = outcome("submit_case_response", submit_result_document("1", "LF350200202400007"))
    assert got["outcome"] == "complete"
    assert got["records"] == [
        {"index": 0, "status": "accepted", "record_id": "LF350200202400007", "code": "1"}
    ]


@pytest.mark.parametrize(
    ("faultcode", "expected"),
    [
        ("soap:Server", ("batch_retry", "FAULT:Server")),
        ("soap:Client", ("batch_failed", "FAULT:Client")),
    ],
)
@pytest.mark.parametrize("message", ["submit_case_response", "fetch_notices_response"])
def test_a_soap_fault_gives_an_outcome_by_its_faultcode(message, faultcode, expected):
    got = outcome(message, fault_document("访问频率超限", faultcode), FACTS)
    assert (got["outcome"], got["code"], got["records"]) == (*expected, [])


def test_an_unlisted_result_code_is_refused_so_the_call_is_sent_again():
    with pytest.raises(MessageRejected) as caught:
        mapped("submit_case_response", submit_result_document("7777"))
    assert caught.value.rule == "unknown_code"


@pytest.mark.parametrize("code", ["1002", "9001", "9002"])
def test_a_transient_fetch_error_is_a_retry_outcome_not_data(code: str):
    page = submit_result_document(code).replace(
        b"submitCaseInfoResponse", b"fetchSupervisionNoticesResponse"
    )
    assert outcome("fetch_notices_response", page, FACTS)["outcome"] == "batch_retry"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "xml_dtd", id="a DTD"
        ),
        pytest.param(sample("fetch_notices_response-1.xml")[:-30], "malformed_xml", id="cut short"),
    ],
)
def test_a_hostile_or_broken_page_is_refused(body: bytes, rule: str):
    with pytest.raises(MessageRejected) as caught:
        mapped("fetch_notices_response", body, FACTS)
    assert caught.value.rule == rule


# --- notices: quirks and refusals -----------------------------------------------------------


def _notice(seq: int = 1041, **fields: str) -> Notice:
    base = {
        "tzbh": "厦检行刑监〔2024〕7号", "tzlx": "03", "bbh": "1", "sfm": "FJ3502002024HJF62410CE",
        "xzajbh": "HJAJ-XM-2024-0102", "ajmc": "某案", "fwjgmc": "厦门市人民检察院",
        "fwjgdm": "11350200003702155C", "fwrq": "2024-03-12", "jdnr": "内容", "dfqx": "",
        "mgbs": "0",
    }  # fmt: skip
    person = {"dsrlx": "4", "mc": "李四妹", "tyshxydm": "null", "zjlx": "111",
              "zjhm": "350583920308246", "fddbr": "null", "dz": "null"}  # fmt: skip
    return Notice(seq, base | fields, [person])


def _notices(*notices: Notice, meta: dict[str, str] | None = None) -> list[dict[str, Any]]:
    page = notice_page_document(list(notices), max(n.seq for n in notices), False)
    return unstamped(mapped("fetch_notices_response", page, meta or FACTS))


def test_null_words_and_empty_elements_are_absent_values():
    (notice,) = _notices(_notice(sfm="null", xzajbh="", dfqx="null", mgbs=""))
    payload = notice["payload"]
    assert (payload["case_code"], payload["source_case_no"], payload["reply_due"]) == (None,) * 3
    assert payload["sensitive"] is False
    assert notice["case_code"] is None


def test_a_legacy_15_digit_id_number_is_upgraded_to_18():
    (notice,) = _notices(_notice())
    party = notice["payload"]["parties"][0]
    assert party["id_number"] == "350583199203082464"
    assert (party["uscc"], party["legal_representative"], party["address"]) == (None,) * 3
    assert notice["classification"] == "L3"


@pytest.mark.parametrize("spelling", ["2024-03-05", "2024年3月5日", "2024年03月05日"])
def test_all_three_date_spellings_are_read(spelling: str):
    (notice,) = _notices(_notice(fwrq=spelling, dfqx=spelling))
    assert notice["payload"]["issued_at"] == "2024-03-05T00:00:00+08:00"
    assert notice["payload"]["reply_due"] == "2024-03-05"


def test_an_issuer_code_in_lower_case_or_full_width_is_folded_before_the_check():
    (notice,) = _notices(_notice(fwjgdm="１１350200003702155c"))
    assert notice["payload"]["issued_by"]["uscc"] == "11350200003702155C"


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        pytest.param(
            {"fwjgdm": "11350200003702155D"},
            "payload.issued_by.uscc",
            "uscc_check",
            id="an issuer code failing its check",
        ),
        pytest.param({"tzlx": "04"}, "payload.kind", "unknown_code", id="an unknown notice type"),
        pytest.param({"bbh": "0"}, "payload.version", "greater_than_equal", id="version 0"),
        pytest.param(
            {"fwrq": "2024/03/05"}, "issued_at", "datetime_format", id="a fourth spelling"
        ),
    ],
)
def test_a_notice_the_spec_forbids_is_refused_naming_its_field(fields, field, rule):
    page = notice_page_document([_notice(**fields)], 1041, False)
    with pytest.raises(MessageRejected) as caught:
        mapped("fetch_notices_response", page, FACTS)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_cdata_content_keeps_angle_brackets_and_line_breaks_and_is_trimmed():
    (notice,) = _notices(_notice(jdnr="\n  浓度<1.0mg/L & 超标\n第二段  \n"))
    assert notice["payload"]["content"] == "浓度<1.0mg/L & 超标\n第二段"


def test_notices_at_or_below_the_cursor_are_dropped_silently():
    got = _notices(_notice(1039), _notice(1040), _notice(1042))
    assert [n["source_message_id"] for n in got] == [f"{ORG}:1042"]


def test_a_revised_notice_is_a_new_message_with_a_higher_version():
    got = _notices(_notice(1041), _notice(1044, bbh="2"))
    assert [(n["source_message_id"], n["payload"]["version"]) for n in got] == [
        (f"{ORG}:1041", 1), (f"{ORG}:1044", 2)
    ]  # fmt: skip
    assert {n["payload"]["notice_no"] for n in got} == {"厦检行刑监〔2024〕7号"}


def test_a_message_for_one_position_maps_only_that_notice():
    got = _notices(_notice(1041), _notice(1042, bbh="x"), meta={**FACTS, "position": "1"})
    assert [n["source_message_id"] for n in got] == [f"{ORG}:1041"]


def test_a_sensitive_notice_is_l4():
    (notice,) = _notices(_notice(mgbs="1"))
    assert notice["classification"] == "L4"
    assert notice["payload"]["sensitive"] is True


def test_an_empty_page_needs_no_request_facts():
    assert unstamped(mapped("fetch_notices_response", sample("fetch_notices_response-3.xml"))) == []
