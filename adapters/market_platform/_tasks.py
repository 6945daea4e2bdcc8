"""Task files (抽查任务): the GB18030 CSV of README §3.3, read into rows keyed by header name.

The platform documents GBK but exports GB18030 (quirk Q1), so the bytes are decoded as GB18030.
Columns are found by header name, never by position (Q7: reordered between versions, new ones
appended; unknown columns are ignored); header names and cells are trimmed (Q3: CHAR padding);
an empty optional cell may be ``/`` or ``无`` (Q4) and becomes null.

``prepare`` turns a task file into the JSON document its mapping reads
(``mappings/market_platform/task.yaml``)::

    {"file": "TASK_20250409_002.csv", "rows": [{"检查记录编号": "JCJL…", …, "联合检查部门": null}]}

A file the bus cannot read as a whole (undecodable, malformed CSV, unknown header) is
``MessageRejected``; a bad cell only fails its own row, in the mapping.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass

from runner.adapter_api import AdapterConfig, MessageRejected, RawMessage

__all__ = [
    "COLUMNS",
    "EMPTY_WORDS",
    "REQUIRED_COLUMNS",
    "TaskFile",
    "prepare",
    "read_task_file",
]

COLUMNS = (
    "检查记录编号",
    "任务编号",
    "任务名称",
    "抽查类型",
    "检查对象名称",
    "统一社会信用代码",
    "主体类型",
    "法定代表人(负责人)",
    "住所(经营场所)",
    "登记机关区划",
    "检查事项",
    "执法人员1姓名",
    "执法人员1执法证号",
    "执法人员2姓名",
    "执法人员2执法证号",
    "计划检查日期",
    "实施机关",
    "实施机关统一社会信用代码",
    "实施机关区划代码",
    "实施机关条线",
    "联合检查部门",
)
"""The columns of interface v2.1 (README §3.4), in the v2.1 order."""
_OPTIONAL = frozenset({"法定代表人(负责人)", "住所(经营场所)", "登记机关区划", "联合检查部门"})
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in _OPTIONAL)
"""Columns a header must have to be recognised (the required ones of README §3.4)."""
EMPTY_WORDS = frozenset({"", "/", "无"})
"""Cell values that mean "no value" (quirk Q4)."""
ENCODING = "gb18030"


@dataclass(frozen=True)
class TaskFile:
    """A task file read as a whole: its header names and its data rows (cells trimmed, empty
    words as None)."""

    header: tuple[str, ...]
    rows: tuple[Mapping[str, str | None], ...]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode(data: bytes) -> str:
    try:
        return data.decode(ENCODING)
    except UnicodeDecodeError as exc:
        if _is_utf8(data):  # README §6: a UTF-8 export yields no known GB18030 header
            raise MessageRejected(
                "unknown header: the file is UTF-8, not GB18030",
                field="header",
                rule="unknown_header",
            ) from None
        raise MessageRejected(
            f"bytes {exc.start}-{exc.end} do not decode as GB18030", rule="undecodable"
        ) from None


def _records(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise MessageRejected(
            f"malformed CSV at line {reader.line_num}: {exc}", rule="malformed_csv"
        ) from None


def _header(cells: list[str]) -> tuple[str, ...]:
    header = tuple(cell.strip() for cell in cells)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        shown = "、".join(missing[:3]) + ("…" if len(missing) > 3 else "")
        raise MessageRejected(
            f"unknown header: required columns missing ({shown})",
            field="header",
            rule="unknown_header",
        )
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        raise MessageRejected(
            f"unknown header: columns named twice ({'、'.join(repeated)})",
            field="header",
            rule="unknown_header",
        )
    return header


def _cell(value: str) -> str | None:
    text = value.strip()
    return None if text in EMPTY_WORDS else text


def read_task_file(data: bytes) -> TaskFile:
    """Decode and parse a task file; a file that cannot be read as a whole is refused.

    Rules: ``undecodable``, ``malformed_csv`` (bad quoting, a row of another width than the
    header), ``unknown_header`` (required columns missing or named twice, e.g. a UTF-8 file).
    """
    records = _records(_decode(data))
    if not records:
        raise MessageRejected("the file has no header row", field="header", rule="unknown_header")
    header = _header(records[0])
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if len(record) != len(header):
            raise MessageRejected(
                f"malformed CSV: row {number} has {len(record)} cells, the header {len(header)}",
                rule="malformed_csv",
            )
        rows.append(
            {name: _cell(value) for name, value in zip(header, record, strict=True) if name}
        )
    return TaskFile(header, tuple(rows))


def prepare(message_id: str, raw: RawMessage, config: AdapterConfig) -> bytes:
    """``AdapterSpec.prepare``: a task file as the JSON document its mapping reads."""
    task = read_task_file(raw.body)
    document = {"file": raw.meta.get("file"), "rows": list(task.rows)}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
