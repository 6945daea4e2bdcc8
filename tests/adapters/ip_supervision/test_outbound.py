"""Outbound: xmlData rendered in GBK and framed into the signed envelope exactly as the samples
(README §2.2, §2.3, §3, §4), and what the spec forbids refused before anything is sent."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from lxml import etree
from typer.testing import CliRunner

from adapters.ip_supervision import SPEC, read_call
from adapters.ip_supervision._calls import number_records
from runner.adapter_api import CallContext, MessageRejected
from runner.cli import app
from runner.dryrun import parse_now, render_message
from tests.adapters.ip_supervision._support import (
    OUTBOUND,
    PROJECT,
    SAMPLES,
    config,
    envelope,
    facts,
    inputs,
    same_xml,
    sample,
)


def _message(stem: str) -> str:
    return stem.rsplit("-", 1)[0]


def _document(stem: str, items: list[dict[str, Any]] | None = None) -> bytes:
    """What the outbound mapping renders (its ``encoding``: GBK with references)."""
    call = CallContext(now=parse_now(facts(stem)["now"]))
    mapping = PROJECT.outbound_mapping("ip_supervision", _message(stem))
    variables = SPEC.variables(_message(stem), config(), call) if SPEC.variables else {}
    return mapping.render(items or inputs(stem), variables)


def _xml_data(stem: str, items: list[dict[str, Any]]) -> etree._Element:
    call = render_message(PROJECT, "ip_supervision", _message(stem), items, facts(stem))
    return etree.fromstring(read_call(call.body)["xmlData"].encode("gbk"))


def _record(stem: str, items: list[dict[str, Any]], index: int = 0) -> dict[str, str]:
    record = _xml_data(stem, items).findall("BODY/RECORD")[index]
    return {child.tag: child.text or "" for child in record}


@pytest.mark.parametrize("stem", OUTBOUND)
def test_the_mapping_renders_the_gbk_inner_document_of_the_sample(stem: str):
    unnumbered = re.sub(rb' SEQ="\d+"', b"", sample(f"{stem}.xmlData.xml"))
    assert _document(stem) == unnumbered


@pytest.mark.parametrize("stem", OUTBOUND)
def test_numbering_the_records_gives_the_sample_xml_data_byte_for_byte(stem: str):
    numbered = number_records(_document(stem).decode("gbk")).encode("gbk")
    assert numbered == sample(f"{stem}.xmlData.xml")


@pytest.mark.parametrize("stem", OUTBOUND)
def test_render_message_gives_the_sample_envelope_and_its_xml_data_byte_for_byte(stem: str):
    call = render_message(PROJECT, "ip_supervision", _message(stem), inputs(stem), facts(stem))
    assert same_xml(call.body, sample(f"{stem}.xml"))
    got, expected = read_call(call.body), read_call(sample(f"{stem}.xml"))
    assert got["xmlData"].encode("gbk") == expected["xmlData"].encode("gbk")
    assert got["sign"] == expected["sign"]


@pytest.mark.parametrize("stem", OUTBOUND)
def test_ebus_render_prints_the_sample_envelope(stem: str):
    meta = [arg for k, v in facts(stem).items() for arg in ("--meta", f"{k}={v}")]
    source = str(SAMPLES / f"{stem}.input.json")
    result = CliRunner().invoke(
        app, ["render", "ip_supervision", _message(stem), source, *meta, "--headers"]
    )
    assert result.exit_code == 0, result.output
    head, _, body = result.stdout_bytes.partition(b"\n\n")
    assert head.decode().splitlines() == [
        "POST /jgxw/services/SupervisionDataService",
        "Content-Type: text/xml; charset=UTF-8",
        'SOAPAction: "urn:uploadSupervisionData"',
    ]
    assert same_xml(body, sample(f"{stem}.xml"))


def test_the_envelope_qualifies_only_the_wrapper_and_the_header():
    call = render_message(
        PROJECT,
        "ip_supervision",
        "upload_penalty",
        inputs("upload_penalty-1"),
        facts("upload_penalty-1"),
    )
    root = etree.fromstring(call.body)
    qualified = {etree.QName(e).localname for e in root.iter() if "hlwjg" in str(e.tag)}
    assert qualified == {"AuthHeader", "uploadSupervisionData"}


def test_a_character_outside_gbk_travels_as_an_escaped_reference():
    call = render_message(
        PROJECT,
        "ip_supervision",
        "upload_inspection",
        inputs("upload_inspection-2"),
        facts("upload_inspection-2"),
    )
    assert b"&amp;#x4DAE;" in call.body
    assert "䶮".encode() not in call.body


def test_a_call_without_a_nonce_gets_a_fresh_one_and_the_header_timestamp_is_sendtime():
    call = CallContext(now=parse_now("2024-03-05T10:15:00+08:00"))
    document = _document("upload_inspection-1")
    first = read_call(SPEC.outgoing("upload_inspection", document, config(), call).body)
    second = read_call(SPEC.outgoing("upload_inspection", document, config(), call).body)
    assert re.fullmatch(r"[0-9a-f]{32}", first["nonce"])
    assert first["nonce"] != second["nonce"]
    assert first["timestamp"] == "20240305101500"
    assert "<SENDTIME>20240305101500</SENDTIME>" in first["xmlData"]


def test_a_nonce_that_is_not_32_lowercase_hex_is_refused():
    call = CallContext(now=parse_now("2024-03-05T10:15:00+08:00"), nonce="ABC")
    with pytest.raises(ValueError, match="nonce"):
        SPEC.outgoing("upload_inspection", _document("upload_inspection-1"), config(), call)


def test_natural_persons_are_sent_unmasked():
    record = _record("upload_penalty-1", inputs("upload_penalty-1"), 1)
    assert (record["XDRMC"], record["XDRZJHM"]) == ("王五福", "350427197511203154")
    assert (record["XDRDM"], record["XDRZJLX"], record["FDDBR"]) == ("", "111", "")


def test_two_hundred_messages_go_in_one_call_and_201_are_refused():
    item = envelope("upload_inspection-1")
    batch = [copy.deepcopy(item) for _ in range(200)]
    root = _xml_data("upload_inspection-1", batch)
    assert root.findtext("HEAD/RECORDCOUNT") == "200"
    assert [r.get("SEQ") for r in root.iter("RECORD")] == [str(n) for n in range(1, 201)]
    with pytest.raises(ValueError, match=r"1\.\.200"):
        _document("upload_inspection-1", [*batch, item])


def test_text_is_escaped_for_xml():
    item = envelope("upload_inspection-1")
    item["payload"]["findings"] = "A&B <C>"
    assert _record("upload_inspection-1", [item])["JCJGMS"] == "A&B <C>"
    assert b"A&amp;B &lt;C&gt;" in _document("upload_inspection-1", [item])


# --- what the spec forbids --------------------------------------------------------------------


def _refusal(stem: str, item: dict[str, Any]) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        _document(stem, [item])
    return caught.value


def test_a_record_without_a_supervision_item_row_is_refused_with_the_spec_reason():
    item = envelope("upload_inspection-1")
    item["payload"]["items"][0]["code"] = "SC-SPJY-99"
    refusal = _refusal("upload_inspection-1", item)
    assert refusal.reason == "no 监管事项 mapping for (SC, XZJC, SC-SPJY-99)"
    assert (refusal.system, refusal.message) == ("ip_supervision", "upload_inspection")
    assert (refusal.field, refusal.rule) == ("JGSXBM", "no_supervision_item")


def test_the_supervision_item_is_matched_on_domain_and_the_first_item_only():
    item = envelope("upload_inspection-1")
    item["payload"]["agency"]["domain"] = "YJ"
    assert _refusal("upload_inspection-1", item).reason == (
        "no 监管事项 mapping for (YJ, XZJC, SC-SPJY-01)"
    )
    item = envelope("upload_inspection-1")
    item["payload"]["items"].reverse()
    assert _record("upload_inspection-1", [item])["JGSXBM"] == "350000SCJC012001"


def test_a_penalty_is_matched_on_its_violation_type_after_trimming():
    item = envelope("upload_penalty-2", 1)
    item["payload"]["violation_type"] = "超过大气污染物排放标准排放大气污染物的"
    assert _refusal("upload_penalty-2", item).reason == (
        "no 监管事项 mapping for (HJ, XZCF, 超过大气污染物排放标准排放大气污染物的)"
    )


@pytest.mark.parametrize(
    ("stem", "index", "path", "field"),
    [
        pytest.param("upload_penalty-1", 1, ("party", "id_number"), "XDRZJHM", id="penalty party"),
        pytest.param(
            "upload_inspection-2", 1, ("target", "id_number"), "JCDXZJHM", id="inspection target"
        ),
    ],
)
def test_a_natural_person_without_an_id_number_is_refused(
    stem: str, index: int, path: tuple[str, str], field: str
):
    item = envelope(stem, index)
    item["payload"][path[0]][path[1]] = None
    refusal = _refusal(stem, item)
    assert (refusal.field, refusal.rule) == (field, "required")


@pytest.mark.parametrize(
    ("stem", "path", "field"),
    [
        pytest.param("upload_penalty-1", ("party", "uscc"), "XDRDM", id="penalty party"),
        pytest.param("upload_penalty-1", ("agency", "uscc"), "CFJGDM", id="penalty agency"),
        pytest.param("upload_inspection-1", ("target", "uscc"), "JCDXDM", id="inspection target"),
    ],
)
def test_a_uscc_failing_gb_32100_is_refused_naming_the_wire_field(
    stem: str, path: tuple[str, str], field: str
):
    item = envelope(stem)  # a raw dict: the mapping checks even what skipped validation
    item["payload"][path[0]][path[1]] = item["payload"][path[0]][path[1]][:-1] + "0"
    refusal = _refusal(stem, item)
    assert refusal.field == field
    assert refusal.rule.startswith("uscc")


def test_an_organisation_without_a_uscc_is_refused():
    item = envelope("upload_penalty-2")
    item["payload"]["party"]["uscc"] = None
    refusal = _refusal("upload_penalty-2", item)
    assert (refusal.field, refusal.rule) == ("XDRDM", "required")


def test_a_planned_inspection_without_an_inspection_time_is_refused():
    item = envelope("upload_inspection-1")
    item["payload"] |= {"inspected_at": None, "result": None, "findings": None}
    assert _refusal("upload_inspection-1", item).field == "JCSJ"


@pytest.mark.parametrize(
    ("kinds", "emptied", "field"),
    [
        pytest.param(["fine"], "fine_amount_yuan", "FKJE", id="a fine needs its amount"),
        pytest.param(["confiscate_gains"], "confiscated_amount_yuan", "MSJE", id="confiscation"),
        pytest.param(["revoke_license"], "license_affected", "ZKDXZZ", id="a revoked licence"),
    ],
)
def test_a_penalty_kind_without_its_amount_or_licence_is_refused(
    kinds: list[str], emptied: str, field: str
):
    item = envelope("upload_penalty-2")
    item["payload"] |= {"penalty_kinds": kinds, emptied: None}
    assert _refusal("upload_penalty-2", item).field == field


def test_a_penalty_without_facts_is_refused():
    item = envelope("upload_penalty-1")
    item["payload"]["facts"] = None
    assert _refusal("upload_penalty-1", item).field == "WFSS"


def test_optional_values_are_empty_elements_and_kinds_keep_input_order():
    item = envelope("upload_penalty-2")
    item["payload"] |= {
        "penalty_kinds": ["warning", "fine"],
        "confiscated_amount_yuan": None,
        "license_affected": None,
    }
    item["payload"]["legal_basis"].append({"law_name": "中华人民共和国行政处罚法", "article": None})
    record = _record("upload_penalty-2", [item])
    assert (record["CFZL"], record["MSJE"], record["ZKDXZZ"]) == ("01,03", "", "")
    assert (
        record["WFYJ"]
        == "《中华人民共和国食品安全法》第三十四条第（一）项；《中华人民共和国行政处罚法》"
    )
    assert b"<MSJE/><ZKDXZZ/>" in _document("upload_penalty-2", [item])


def test_an_officer_without_a_certificate_is_listed_by_name():
    item = envelope("upload_inspection-1")
    item["payload"]["officers"][1]["certificate_no"] = None
    assert _record("upload_inspection-1", [item])["JCRY"] == "邓明三(35042722017),肖明四"
