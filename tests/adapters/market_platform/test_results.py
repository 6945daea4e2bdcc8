"""Result files: T4 codes, the one-task rule, escaping, and the result.xsd gate."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lxml import etree

from runner.adapter_api import MessageRejected
from runner.dryrun import render_message
from tests.adapters.market_platform._support import PROJECT, inputs

NS = {"r": "http://ssj.scjgj.fujian.gov.cn/result/v2"}


def _result(**payload: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(inputs("result-1")[0])
    envelope["payload"].update(payload)
    return envelope


def _render(*envelopes: dict[str, Any]) -> etree._Element:
    call = render_message(PROJECT, "market_platform", "result", list(envelopes), {})
    return etree.fromstring(call.body)


def _code(root: etree._Element) -> tuple[str, str]:
    record = root.find("r:Record", NS)
    assert record is not None
    return record.findtext("r:ResultCode", namespaces=NS), record.findtext(
        "r:ResultName", namespaces=NS
    )


@pytest.mark.parametrize(
    ("result", "findings", "code", "name"),
    [
        ("rectify", "已责令改正", "02", "发现问题经责令已改正"),
        ("other", "  注销：已于2025年3月办理注销登记", "05", "注销"),
        ("other", "未发现本次抽查涉及的生产经营活动。", "03", "未发现本次抽查涉及的生产经营活动"),
        (
            "other",
            "公示信息隐瞒真实情况弄虚作假：年报从业人数",
            "14",
            "公示信息隐瞒真实情况弄虚作假",
        ),
    ],
    ids=["rectify", "deregistered", "no business activity", "false publicity"],
)
def test_a_result_gets_its_t4_code_and_exact_text(result: str, findings: str, code: str, name: str):
    assert _code(_render(_result(result=result, findings=findings))) == (code, name)


def test_an_other_result_without_a_platform_text_is_rejected_for_manual_entry():
    with pytest.raises(MessageRejected) as caught:
        _render(_result(result="other", findings="现场检查发现若干问题"))
    assert caught.value.rule == "no_platform_result_text"
    assert "现场检查" not in str(caught.value)


def test_a_case_opened_result_needs_its_case_code():
    with pytest.raises(MessageRejected) as caught:
        _render(_result(result="case_opened"))
    assert caught.value.rule == "required"


def test_a_result_without_findings_is_rejected():
    with pytest.raises(MessageRejected) as caught:
        _render(_result(findings=None))
    assert (caught.value.field, caught.value.rule) == ("record.Findings", "required")


def test_records_of_two_tasks_never_share_a_file():
    other_task = _result(task_id="SSJ-350783-2025-0099", inspection_id="JCJL350783202500990001")
    with pytest.raises(MessageRejected) as caught:
        _render(_result(), other_task)
    assert caught.value.rule == "one_task_per_file"


def test_records_are_sorted_by_record_number_and_text_is_escaped():
    later = _result(inspection_id="JCJL350783202500120009", findings='库存<10箱 & 标签"缺失"')
    earlier = _result(inspection_id="JCJL350783202500120002")
    call = render_message(PROJECT, "market_platform", "result", [later, earlier], {})
    root = etree.fromstring(call.body)
    numbers = [r.findtext("r:RecordNo", namespaces=NS) for r in root.findall("r:Record", NS)]
    assert numbers == ["JCJL350783202500120002", "JCJL350783202500120009"]
    assert root.get("recordCount") == "2"
    assert '<Findings>库存&lt;10箱 &amp; 标签"缺失"</Findings>'.encode() in call.body


def test_an_officer_name_with_a_quote_is_escaped_in_its_attribute():
    officers = [
        {"name": 'A"B', "certificate_no": "35078320031"},
        inputs("result-1")[0]["payload"]["officers"][1],
    ]
    call = render_message(PROJECT, "market_platform", "result", [_result(officers=officers)], {})
    assert b'name="A&quot;B"' in call.body


def test_a_file_result_xsd_refuses_is_never_written():
    with pytest.raises(MessageRejected) as caught:
        _render(_result(findings="问" * 2001))
    assert caught.value.rule == "result_xsd"
    assert "问问" not in str(caught.value)


def test_a_single_officer_fails_the_schema_of_two_inspectors():
    one = inputs("result-1")[0]["payload"]["officers"][:1]
    with pytest.raises(MessageRejected) as caught:
        _render(_result(officers=one))
    assert caught.value.rule == "result_xsd"


def test_a_task_number_that_is_not_a_plain_code_cannot_name_a_file():
    with pytest.raises(MessageRejected) as caught:
        _render(_result(task_id="../../etc/SSJ"))
    assert caught.value.rule == "task_no_format"


def test_a_planned_inspection_or_another_systems_record_is_not_taken():
    mapping = PROJECT.outbound_mapping("market_platform", "result")
    assert mapping.accepts_message(_result())
    assert not mapping.accepts_message(_result(inspected_at=None, result=None, findings=None))
    assert not mapping.accepts_message(_result(inspection_id="YJJC-350427-2024-000318"))
