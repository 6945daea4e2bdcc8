"""Result files (检查结果): T4 result codes and the exact XML of README §4.3.

The outbound mapping (``mappings/market_platform/result.yaml``) renders the records of one call
as JSON; ``frame`` writes them as ``RESULT_<任务编号>.xml`` exactly as the platform wants it
(UTF-8, declaration, namespace, 2-space indentation, LF, records sorted by ``RecordNo``) and
validates the file against ``result.xsd`` before it leaves, so a file the platform would refuse
is never dropped::

    <?xml version="1.0" encoding="UTF-8"?>
    <CheckResultFile xmlns="http://ssj.scjgj.fujian.gov.cn/result/v2" taskNo="…" recordCount="1">
      <Record>
        <RecordNo>JCJL350783202500120001</RecordNo>
        …
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

from lxml import etree

from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    MessageRejected,
    NoParams,
    Outgoing,
    define_transform,
    parse_xml,
)

__all__ = [
    "NAMESPACE",
    "RECORD_COUNT_HEADER",
    "RESULT_TEXTS",
    "TRANSFORMS",
    "file_name",
    "frame",
    "result_code",
    "result_name",
    "validate_result_file",
    "write_result_file",
]

NAMESPACE = "http://ssj.scjgj.fujian.gov.cn/result/v2"
RECORD_COUNT_HEADER = "x-record-count"
"""The header of a framed call carrying its record count (for the marker)."""
XSD_FILE = Path(__file__).with_name("result.xsd")
"""A copy of the spec's ``result.xsd`` (interface v2.1)."""

RESULT_TEXTS: dict[str, str] = {
    "01": "未发现问题",
    "02": "发现问题经责令已改正",
    "03": "未发现本次抽查涉及的生产经营活动",
    "04": "不配合检查情节严重",
    "05": "注销",
    "06": "暂停营业",
    "07": "吊证",
    "08": "关闭",
    "09": "发现问题待后续处理",
    "10": "通过登记的住所（经营场所）无法联系",
    "11": "被撤销",
    "12": "迁出",
    "13": "未按规定公示应当公示的信息",
    "14": "公示信息隐瞒真实情况弄虚作假",
}
"""T4 检查结果代码 → 检查结果 (README §5). The platform matches by text: exact texts."""
_DIRECT = {"compliant": "01", "rectify": "02", "case_opened": "09", "not_found": "10"}
_BY_TEXT = tuple(
    sorted(
        ((text, code) for code, text in RESULT_TEXTS.items() if code not in _DIRECT.values()),
        key=lambda pair: -len(pair[0]),  # the longest text first: no prefix shadows another
    )
)
_TASK_NO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,63}$")


def _code(result: Any, findings: Any) -> str:
    if result in _DIRECT:
        return _DIRECT[result]
    if result != "other":
        raise MessageRejected(f"result '{result}' has no T4 code", rule="unknown_code")
    text = str(findings or "").strip()
    for prefix, code in _BY_TEXT:
        if text.startswith(prefix):
            return code
    raise MessageRejected(
        "no platform result text: findings of an 'other' result start with none of the T4 "
        "texts (enter it on the platform by hand)",
        field="payload.findings",
        rule="no_platform_result_text",
    )


@define_transform("ssj_result_code")
def result_code(value: Any, _: NoParams) -> Any:
    """``{result, findings}`` → the T4 code (README §5): ``compliant`` 01, ``rectify`` 02,
    ``case_opened`` 09, ``not_found`` 10; ``other`` → the code whose text starts ``findings``::

        ResultCode: {from: "{result: payload.result, findings: payload.findings}",
                     transform: [ssj_result_code]}
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageRejected("expected {result, findings}", rule="ssj_result_input")
    if value.get("result") is None:
        return None
    return _code(value.get("result"), value.get("findings"))


@define_transform("ssj_result_name")
def result_name(value: Any, _: NoParams) -> Any:
    """A T4 code → its exact text (``01`` → ``未发现问题``)::

    ResultName: {from: …, transform: [ssj_result_code, ssj_result_name]}
    """
    if value is None:
        return None
    text = RESULT_TEXTS.get(str(value))
    if text is None:
        raise MessageRejected(f"code '{value}' is not in T4", rule="unknown_code")
    return text


TRANSFORMS = (result_code, result_name)


# --- the file ---------------------------------------------------------------------------------


def file_name(task_no: str) -> str:
    """``RESULT_<任务编号>.xml``; a task number that is not a plain code is refused."""
    if not _TASK_NO.fullmatch(task_no):
        raise MessageRejected(
            "task number is not a plain code (letters, digits, '-')",
            field="payload.task_id",
            rule="task_no_format",
        )
    return f"RESULT_{task_no}.xml"


def _escape(text: Any, attribute: bool = False) -> str:
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace('"', "&quot;") if attribute else out


def _record_lines(record: dict[str, Any]) -> list[str]:
    lines = ["  <Record>"]
    for tag in (
        "RecordNo",
        "EntName",
        "UniscId",
        "CheckDate",
        "CheckTime",
        "ResultCode",
        "ResultName",
        "Findings",
    ):
        lines.append(f"    <{tag}>{_escape(record[tag])}</{tag}>")
    if record.get("CaseCode") is not None:
        lines.append(f"    <CaseCode>{_escape(record['CaseCode'])}</CaseCode>")
    lines.append("    <Inspectors>")
    lines += [
        f'      <Inspector name="{_escape(i["name"], True)}" '
        f'certNo="{_escape(i["certNo"], True)}"/>'
        for i in record["Inspectors"]
    ]
    lines.append("    </Inspectors>")
    agency = record["Agency"]
    lines.append(
        f'    <Agency uscc="{_escape(agency["uscc"], True)}">{_escape(agency["name"])}</Agency>'
    )
    lines.append("  </Record>")
    return lines


def write_result_file(task_no: str, records: list[dict[str, Any]]) -> bytes:
    """The bytes of a result file of one task (records sorted by ``RecordNo``)."""
    ordered = sorted(records, key=lambda r: str(r["RecordNo"]))
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<CheckResultFile xmlns="{NAMESPACE}" taskNo="{_escape(task_no, True)}" '
        f'recordCount="{len(ordered)}">',
    ]
    for record in ordered:
        lines += _record_lines(record)
    lines.append("</CheckResultFile>")
    return ("\n".join(lines) + "\n").encode("utf-8")


_SCHEMA: list[etree.XMLSchema] = []


def _schema() -> etree.XMLSchema:
    """``result.xsd``, compiled once."""
    if not _SCHEMA:
        _SCHEMA.append(etree.XMLSchema(parse_xml(XSD_FILE.read_bytes())))
    return _SCHEMA[0]


_LOCAL = re.compile(r"\{[^}]*\}")


def validate_result_file(data: bytes) -> None:
    """Refuse a result file ``result.xsd`` does not accept (rule ``result_xsd``).

    The reason names the element path and line, never the value (it may be a person's name).
    """
    document = parse_xml(data)
    schema = _schema()
    if schema.validate(document):
        return
    error = cast(Any, schema.error_log)[0]  # lxml-stubs leave _ErrorLog empty
    where = _LOCAL.sub("", error.path or "") or "document"
    raise MessageRejected(
        f"the result file does not conform to result.xsd at {where} (line {error.line})",
        field=where,
        rule="result_xsd",
    )


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """``AdapterSpec.frame``: the rendered records of one call as ``RESULT_<任务编号>.xml``.

    All records must be of one task (a file holds only records of one task, README §4.1);
    a call mixing tasks is refused (rule ``one_task_per_file``) so that the delivery worker
    sends its messages one by one.
    """
    records: list[dict[str, Any]] = json.loads(document)["records"]
    tasks = sorted({str(r["TaskNo"]) for r in records})
    if len(tasks) != 1:
        raise MessageRejected(
            f"a result file holds the records of one task, this call has {len(tasks)}",
            field="payload.task_id",
            rule="one_task_per_file",
        )
    body = write_result_file(tasks[0], records)
    validate_result_file(body)
    return Outgoing(
        body=body,
        method="PUT",
        path=file_name(tasks[0]),
        headers={RECORD_COUNT_HEADER: str(len(records))},
        operation="result",
    )
