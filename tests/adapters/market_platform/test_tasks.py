"""Task files: the quirks of README §7 and what a bad row or a bad file becomes."""

from __future__ import annotations

import pytest

from adapters.market_platform import read_task_file
from adapters.market_platform._tasks import COLUMNS
from adapters.market_platform.simulator import csv_bytes, task_row
from runner.adapter_api import MessageRejected, RawMessage
from runner.dryrun import map_message
from tests.adapters.market_platform._support import PROJECT


def _map(data: bytes):
    return map_message(PROJECT, "market_platform", "task", RawMessage(data, meta={"file": "F"}))


def _payload(**cells: str) -> dict:
    result = _map(csv_bytes([task_row(2, **cells)]))
    assert result.rejected == []
    return result.envelopes[0].payload.model_dump(mode="json")


def test_a_rare_character_outside_gbk_decodes_as_gb18030():
    data = csv_bytes([task_row(2, **{"执法人员1姓名": "陈䶮"})])
    assert "陈䶮".encode("gb18030") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("gbk")
    assert _payload(**{"执法人员1姓名": "陈䶮"})["officers"][0]["name"] == "陈䶮"


def test_full_width_and_lower_case_codes_are_folded():
    row = task_row(2)
    full = str.maketrans(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ",
    )
    payload = _payload(
        **{
            "统一社会信用代码": row["统一社会信用代码"].translate(full),
            "执法人员1执法证号": row["执法人员1执法证号"].translate(full),
            "检查事项": "ｓｃ０２０１：食品生产者生产条件检查;SC0204:食品标签标识检查",
        }
    )
    assert payload["target"]["uscc"] == row["统一社会信用代码"]
    assert payload["officers"][0]["certificate_no"] == row["执法人员1执法证号"]
    assert payload["items"] == [
        {"code": "SC0201", "name": "食品生产者生产条件检查"},
        {"code": "SC0204", "name": "食品标签标识检查"},
    ]


def test_padded_cells_and_header_names_are_trimmed():
    header = [f"{name}  " for name in COLUMNS]
    row = task_row(2)
    data = csv_bytes([{f"{k}  ": f"{v}   " for k, v in row.items()}], header)
    payload = _map(data).envelopes[0].payload
    assert payload.target.legal_representative == row["法定代表人(负责人)"]
    assert payload.officers[1].certificate_no == row["执法人员2执法证号"]


@pytest.mark.parametrize("empty", ["", "/", "无"], ids=["empty", "slash", "wu"])
def test_slash_and_wu_in_an_optional_cell_mean_no_value(empty: str):
    payload = _payload(**{"法定代表人(负责人)": empty, "住所(经营场所)": empty})
    assert payload["target"]["legal_representative"] is None
    assert payload["target"]["address"] is None


@pytest.mark.parametrize(
    "written",
    ["2025-04-22", "2025/4/22", "2025年4月22日", "20250422"],
    ids=["web ui", "excel", "chinese", "special module"],
)
def test_the_four_planned_date_formats_give_an_iso_date(written: str):
    assert _payload(**{"计划检查日期": written})["planned_date"] == "2025-04-22"


def test_columns_are_found_by_name_in_any_order_and_new_ones_are_ignored():
    header = [*reversed(COLUMNS), "抽查批次"]
    row = {**task_row(2), "抽查批次": "2025-2"}
    moved = _map(csv_bytes([row], header)).envelopes[0]
    usual = _map(csv_bytes([task_row(2)])).envelopes[0]
    assert moved.payload == usual.payload


def test_a_quoted_cell_with_a_comma_a_quote_and_a_line_break_is_one_cell():
    name = '福州"闽江"食品,有限\r\n公司'
    assert _payload(**{"检查对象名称": name})["target"]["name"] == name


@pytest.mark.parametrize(
    ("cells", "field", "rule"),
    [
        ({"统一社会信用代码": "91350783MA34NB1R9X"}, "payload.target.uscc", "uscc_check"),
        ({"执法人员2执法证号": ""}, "payload.officers", "required"),
        ({"执法人员1执法证号": "3507832003"}, "payload.officers", "certificate_no_format"),
        ({"抽查类型": "9"}, "payload.kind", "unknown_code"),
        ({"实施机关条线": "税务"}, "payload.agency.domain", "unknown_code"),
        ({"计划检查日期": "2025.04.22"}, "payload.planned_date", "datetime_format"),
        ({"检查事项": "SC02:食品"}, "payload.items", "item_code"),
        ({"检查记录编号": "JCJL3507"}, "payload.inspection_id", "record_no_format"),
    ],
    ids=[
        "uscc check character",
        "officer 2 without certificate",
        "certificate of 10 digits",
        "unknown inspection type",
        "unknown line of business",
        "unknown date format",
        "bad item code",
        "bad record number",
    ],
)
def test_a_bad_row_is_rejected_alone_naming_field_and_rule(cells: dict, field: str, rule: str):
    rows = [task_row(1), task_row(2, **cells), task_row(3)]
    result = _map(csv_bytes(rows))
    assert [e.source_message_id for e in result.envelopes] == [
        rows[0]["检查记录编号"],
        rows[2]["检查记录编号"],
    ]
    (rejection,) = result.rejected
    assert (rejection.system, rejection.message, rejection.rule) == (
        "market_platform",
        "task",
        rule,
    )
    assert rejection.field is not None
    assert rejection.field.startswith(field)
    assert "record 2 of 3" in rejection.reason


def test_a_rejection_never_repeats_a_personal_value():
    row = task_row(2, **{"执法人员2执法证号": "", "住所(经营场所)": "福州市鼓楼区某某路1号"})
    result = _map(csv_bytes([task_row(1), row]))
    text = str(result.rejected[0])
    assert "福州市鼓楼区" not in text
    assert row["法定代表人(负责人)"] not in text


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (csv_bytes([task_row(1)]).decode("gb18030").encode("utf-8"), "unknown_header"),
        (b"\x81\x30", "undecodable"),
        (csv_bytes([task_row(1)]) + b'x,"unterminated\r\n', "malformed_csv"),
        (csv_bytes([task_row(1)]) + b"a,b\r\n", "malformed_csv"),
        (b"", "unknown_header"),
    ],
    ids=["a utf-8 file", "undecodable bytes", "an open quote", "a short row", "an empty file"],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_refused(data: bytes, rule: str):
    with pytest.raises(MessageRejected) as caught:
        read_task_file(data)
    assert caught.value.rule == rule
    with pytest.raises(MessageRejected) as mapped:
        _map(data)
    assert (mapped.value.system, mapped.value.message, mapped.value.rule) == (
        "market_platform",
        "task",
        rule,
    )
