"""README §3, §3.4-3.6, §6: the value rules and quirks, through prepare and the mappings.

Each case edits a spec sample, signs it, maps it as the bus does, and checks the canonical
value, or the rejection and the Ack reason it gives (element and rule, never a value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.emergency import wire_reason
from runner.adapter_api import MessageRejected
from runner.dryrun import map_message
from runner.project import load_project
from tests.adapters.emergency._support import SAMPLES, edit, signed

PROJECT = load_project()
INSPECTION = SAMPLES / "safety_inspection-1.xml"
PENALTY = SAMPLES / "penalty_decision-1.xml"
PERSON = SAMPLES / "penalty_decision-2.xml"


def _message(path: Path) -> str:
    return path.name.split("-")[0]


def _mapped(path: Path, body: bytes) -> dict[str, Any]:
    result = map_message(PROJECT, "emergency", _message(path), signed(body))
    assert len(result.envelopes) == 1
    return result.envelopes[0].model_dump(mode="json")


def _refused(path: Path, body: bytes) -> tuple[MessageRejected, str]:
    with pytest.raises(MessageRejected) as caught:
        map_message(PROJECT, "emergency", _message(path), signed(body))
    return caught.value, wire_reason(_message(path), caught.value)


@pytest.mark.parametrize("word", ["null", "NULL", "Null", "nUlL", "", "  ", "\u3000"])
def test_null_in_any_case_and_blank_values_are_absent(word: str):
    body = edit(PENALTY, "<XKZ>null</XKZ>", f"<XKZ>{word}</XKZ>")
    assert _mapped(PENALTY, body)["payload"]["license_affected"] is None


def test_an_absent_required_value_is_refused_naming_the_element():
    error, reason = _refused(
        PENALTY,
        edit(
            PENALTY, "<WFXW>未对安全设备进行经常性维护、保养和定期检测</WFXW>", "<WFXW>NULL</WFXW>"
        ),
    )
    assert error.rule == "required"
    assert reason == "WFXW 必填项缺失"


def test_a_full_width_lower_case_uscc_padded_with_ideographic_spaces_is_folded():
    body = edit(
        INSPECTION,
        "<TYSHXYDM>91350427MA2XR5K17P</TYSHXYDM>",
        "<TYSHXYDM>\u3000９１３５０４２７ｍａ２ｘｒ５ｋ１７ｐ\u3000</TYSHXYDM>",
    )
    assert _mapped(INSPECTION, body)["payload"]["target"]["uscc"] == "91350427MA2XR5K17P"


def test_a_bad_uscc_check_character_gives_the_spec_reason():
    body = edit(
        INSPECTION,
        "<TYSHXYDM>91350427MA2XR5K17P</TYSHXYDM>",
        "<TYSHXYDM>91350427MA2XR5K17Q</TYSHXYDM>",
    )
    error, reason = _refused(INSPECTION, body)
    assert error.rule == "uscc_check"
    assert reason == "BJCDW/TYSHXYDM 统一社会信用代码校验位错误"


def test_a_legacy_15_digit_id_number_is_upgraded_and_never_quoted_in_a_reason():
    body = edit(PERSON, "<ZJHM>350982197902143170</ZJHM>", "<ZJHM>350982790214317</ZJHM>")
    party = _mapped(PERSON, body)["payload"]["party"]
    assert party["id_number"] == "350982197902143170"
    bad = edit(PERSON, "<ZJHM>350982197902143170</ZJHM>", "<ZJHM>350982197902143171</ZJHM>")
    error, reason = _refused(PERSON, bad)
    assert reason == "DSR/ZJHM 证件号码校验位错误"
    assert "350982" not in str(error)
    assert "350982" not in reason


def test_an_empty_id_type_of_a_natural_person_means_resident_id():
    body = edit(PERSON, "<ZJLX>111</ZJLX>", "<ZJLX/>")
    assert _mapped(PERSON, body)["payload"]["party"]["id_type"] == "resident_id"


@pytest.mark.parametrize(
    ("wire", "canonical"),
    [
        ("20240305093000", "2024-03-05T09:30:00+08:00"),
        ("2024-03-05 09:30:00", "2024-03-05T09:30:00+08:00"),
        ("2024-03-05T09:30:00", "2024-03-05T09:30:00+08:00"),
        ("２０２４０３０５０９３０００", "2024-03-05T09:30:00+08:00"),
    ],
)
def test_the_three_datetime_spellings_are_beijing_time(wire: str, canonical: str):
    body = edit(INSPECTION, "<JCSJ>20240305093000</JCSJ>", f"<JCSJ>{wire}</JCSJ>")
    assert _mapped(INSPECTION, body)["payload"]["inspected_at"] == canonical


@pytest.mark.parametrize(
    "wire", ["202403050930", "2024/03/05 09:30:00", "20241305093000", "2024-3-5 9:30:00"]
)
def test_another_datetime_spelling_is_refused(wire: str):
    error, reason = _refused(
        INSPECTION, edit(INSPECTION, "<JCSJ>20240305093000</JCSJ>", f"<JCSJ>{wire}</JCSJ>")
    )
    assert error.rule == "datetime_format"
    assert reason == "JCSJ 时间格式错误"


@pytest.mark.parametrize("wire", ["2024-03-28", "20240328", "2024年3月28日", "2024年03月28日"])
def test_the_three_date_spellings_give_a_midnight_decision(wire: str):
    body = edit(PENALTY, "<JDRQ>2024-03-28</JDRQ>", f"<JDRQ>{wire}</JDRQ>")
    assert _mapped(PENALTY, body)["payload"]["decided_at"] == "2024-03-28T00:00:00+08:00"


@pytest.mark.parametrize("wire", ["2024/3/28", "2024-02-30", "28.03.2024"])
def test_a_bad_date_is_refused(wire: str):
    error, reason = _refused(
        PENALTY, edit(PENALTY, "<JDRQ>2024-03-28</JDRQ>", f"<JDRQ>{wire}</JDRQ>")
    )
    assert (error.rule, reason) == ("date_format", "JDRQ 日期格式错误")


@pytest.mark.parametrize(
    ("wire", "yuan"),
    [
        ("2.8", "28000.00"),
        ("2.00", "20000.00"),
        ("0.36852", "3685.20"),
        ("0.123456", "1234.56"),
        ("１０", "100000.00"),
    ],
)
def test_wan_yuan_amounts_convert_exactly(wire: str, yuan: str):
    body = edit(PENALTY, "<FKJE>2.8</FKJE>", f"<FKJE>{wire}</FKJE>")
    assert _mapped(PENALTY, body)["payload"]["fine_amount_yuan"] == yuan


@pytest.mark.parametrize("wire", ["0.1234567", "-2.8", "+2.8", "2.8E1", "1,000", "2.", ".5", "NaN"])
def test_an_amount_with_a_sign_exponent_separator_or_over_6_decimals_is_refused(wire: str):
    error, reason = _refused(PENALTY, edit(PENALTY, "<FKJE>2.8</FKJE>", f"<FKJE>{wire}</FKJE>"))
    assert (error.rule, reason) == ("amount_format", "FKJE 金额格式错误")


@pytest.mark.parametrize(
    ("wire", "entries"),
    [
        ("《安全生产法》第二十八条、第三十条", [("安全生产法", "第二十八条、第三十条")]),
        (
            "《条例》第三十三条第一款；《办法》第三条；",
            [("条例", "第三十三条第一款"), ("办法", "第三条")],
        ),
        ("《条例》第一条, 《办法》", [("条例", "第一条"), ("办法", None)]),
    ],
)
def test_wfyj_gives_one_legal_basis_per_law(wire: str, entries: list[tuple[str, str | None]]):
    body = edit(
        PENALTY, "<WFYJ>《中华人民共和国安全生产法》第三十六条第二款</WFYJ>", f"<WFYJ>{wire}</WFYJ>"
    )
    got = _mapped(PENALTY, body)["payload"]["legal_basis"]
    assert [(e["law_name"], e["article"]) for e in got] == entries


def test_wfyj_without_a_law_in_book_title_marks_is_refused():
    body = edit(
        PENALTY,
        "<WFYJ>《中华人民共和国安全生产法》第三十六条第二款</WFYJ>",
        "<WFYJ>安全生产法第三十六条</WFYJ>",
    )
    assert _refused(PENALTY, body)[1] == "WFYJ 未包含《法规名》"


@pytest.mark.parametrize("separator", [",", "，", "、", ";", "；"])
def test_penalty_kinds_keep_wire_order_with_any_separator(separator: str):
    body = edit(PENALTY, "<CFZL>02</CFZL>", f"<CFZL>01{separator}02{separator}06</CFZL>")
    assert _mapped(PENALTY, body)["payload"]["penalty_kinds"] == [
        "warning",
        "fine",
        "suspend_license",
    ]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("<CFZL>02</CFZL>", "<CFZL>02,13</CFZL>", "CFZL 未知代码"),
        ("<DSRLX>1</DSRLX>", "<DSRLX>5</DSRLX>", "DSR/DSRLX 未知代码"),
    ],
)
def test_an_unknown_code_is_refused(old: str, new: str, reason: str):
    assert _refused(PENALTY, edit(PENALTY, old, new))[1] == reason


def test_cdata_with_a_split_end_marker_markup_and_line_breaks_is_kept_as_text():
    body = edit(
        INSPECTION,
        "<YHMS><![CDATA[1. 甲类仓库内",
        "<YHMS><![CDATA[a ]]]]><![CDATA[> b <c> & d\r\n]]><![CDATA[1. 甲类仓库内",
    )
    findings = _mapped(INSPECTION, body)["payload"]["findings"]
    assert findings.startswith("a ]]> b <c> & d\n1. 甲类仓库内")


def test_the_2x_client_element_order_inside_bjcdw_is_accepted():
    body = edit(
        INSPECTION,
        "<DWDZ>福建省三明市沙县区金古经济开发区金明路8号</DWDZ>\n        <XZQHDM>350427</XZQHDM>",
        "<XZQHDM>350427</XZQHDM>\n        <DWDZ>福建省三明市沙县区金古经济开发区金明路8号</DWDZ>",
    )
    assert _mapped(INSPECTION, body)["payload"]["target"]["division_code"] == "350427"


def test_an_element_the_xsd_does_not_know_is_refused():
    body = edit(
        INSPECTION, "<HYLB>危险化学品生产</HYLB>", "<HYLB>危险化学品生产</HYLB><EXTRA>x</EXTRA>"
    )
    error, reason = _refused(INSPECTION, body)
    assert (error.rule, reason) == ("schema", "BJCDW/EXTRA 报文结构不符合yjzf.xsd")


def test_a_message_pushed_as_the_other_type_is_refused():
    error, reason = _refused(PENALTY, INSPECTION.read_bytes())
    assert (error.rule, reason) == ("wrong_message_type", "Head/msgType 报文类型与报文体不符")


def test_a_malformed_document_is_refused_without_a_traceback():
    error, reason = _refused(PENALTY, PENALTY.read_bytes()[:500])
    assert (error.rule, reason) == ("malformed_xml", "XML格式错误")


def test_a_bad_msg_id_is_refused():
    body = edit(PENALTY, "<msgId>YJZF20240328164010000031</msgId>", "<msgId>YJZF2024</msgId>")
    assert _refused(PENALTY, body)[1] == "Head/msgId 报文标识格式错误"


def test_an_inspection_without_labh_has_no_case_code_and_with_labh_needs_larq():
    assert _mapped(INSPECTION, INSPECTION.read_bytes())["case_code"] is None
    third = SAMPLES / "safety_inspection-3.xml"
    _, reason = _refused(third, edit(third, "<LARQ>2024-03-07</LARQ>", "<LARQ>null</LARQ>"))
    assert reason == "LARQ 必填项缺失"


def test_a_sfm_is_kept_as_sent_after_folding():
    body = edit(PERSON, "<SFM>FJ3509822024YJCF1EB01D</SFM>", "<SFM>ｆｊ3509822024yjcf1eb01d</SFM>")
    assert _mapped(PERSON, body)["case_code"] == "FJ3509822024YJCF1EB01D"
