"""Transforms the ip_supervision mappings need that the shared library does not have (yet).

- ``supervision_item``: the 监管事项编码 / 名称 of a record from the operator's table
  (README §2.5), or a rejection with the reason the spec prescribes;
- ``officers``: ``姓名(执法证号)`` joined by ``,`` (README §4.1 ``JCRY``);
- ``present``: a required value, rejecting with the wire field named (the shared ``required``
  modifier names no field in outbound mappings; the shared ``{uscc: FIELD}`` checks a USCC
  naming its field the same way);
- ``seq_records``: per-record results matched to the call by ``seq`` (README §6.3); the
  shared ``records_outcome`` makes the whole-call outcome of them.

``SPEC.transforms`` lists them (``TRANSFORMS``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal

import yaml

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform

__all__ = [
    "SUPERVISION_ITEMS",
    "TRANSFORMS",
    "load_supervision_items",
    "officers",
    "present",
    "seq_records",
    "supervision_item",
]

SUPERVISION_ITEMS = (
    Path(__file__).resolve().parents[2] / "mappings/codes/ip_supervision/supervision_items.yaml"
)
"""The operator's 监管事项 table (README §2.5), a code table keyed ``domain|data_type|key``."""
_JGSXBM = re.compile(r"350000[A-Z]{2}(JC|CF)\d{6}")


# --- supervision_item -------------------------------------------------------------------------


@functools.cache
def load_supervision_items(path: Path = SUPERVISION_ITEMS) -> dict[tuple[str, str, str], Any]:
    """The table as ``{(domain, data_type, key): {code, name}}``; a malformed row is an error."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table: dict[tuple[str, str, str], Any] = {}
    for raw_key, row in (data.get("values") or {}).items():
        parts = tuple(part.strip() for part in str(raw_key).split("|"))
        code = row.get("code") if isinstance(row, dict) else None
        if len(parts) != 3 or not isinstance(code, str) or not _JGSXBM.fullmatch(code):
            raise ValueError(
                f"{path}: row '{raw_key}' is not domain|data_type|key → {{code, name}}"
            )
        if code[6:8] != parts[0] or code[8:10] != {"XZJC": "JC", "XZCF": "CF"}.get(parts[1]):
            raise ValueError(f"{path}: row '{raw_key}': code {code} is not of its domain and type")
        table[(parts[0], parts[1], parts[2])] = row
    return table


class SupervisionItemParams(Params):
    data_type: Literal["XZJC", "XZCF"]
    part: Literal["code", "name"]


@define_transform("supervision_item", SupervisionItemParams)
def supervision_item(value: Any, params: SupervisionItemParams) -> Any:
    """``[domain, key]`` → the 监管事项编码 (``part: code``) or 名称 (``part: name``) of the
    table row (domain, data_type, key), matched exactly after trimming; no row rejects the
    message with ``no 监管事项 mapping for (<domain>, <data_type>, <key>)``::

        JGSXBM:
          from: "[payload.agency.domain, payload.items[0].code]"
          transform: [{supervision_item: {data_type: XZJC, part: code}}]
    """
    domain, key = (
        (str(v).strip() if v is not None else "" for v in value)
        if isinstance(value, list) and len(value) == 2
        else ("", "")
    )
    row = load_supervision_items().get((domain, params.data_type, key))
    if row is None:
        raise MessageRejected(
            f"no 监管事项 mapping for ({domain}, {params.data_type}, {key})",
            field="JGSXBM" if params.part == "code" else "JGSXMC",
            rule="no_supervision_item",
        )
    return row[params.part]


# --- officers ---------------------------------------------------------------------------------


@define_transform("officers", NoParams)
def officers(value: Any, _: NoParams) -> Any:
    """Officers ``[{name, certificate_no}]`` → ``姓名(执法证号)`` joined by ``,`` (a name alone
    when the certificate is unknown); no officer gives null::

        JCRY: {from: payload.officers, transform: [officers, {present: JCRY}]}
    """
    if not value:
        return None
    parts = []
    for officer in value:
        name, number = officer.get("name"), officer.get("certificate_no")
        parts.append(f"{name}({number})" if number else str(name))
    return ",".join(parts)


# --- present --------------------------------------------------------------------------------


class FieldParams(Params):
    field: str


@define_transform("present", FieldParams, primary="field")
def present(value: Any, params: FieldParams) -> Any:
    """The value, or a rejection naming the wire field when it is null or empty::

    JCDXZJHM: {from: payload.target.id_number, transform: [{present: JCDXZJHM}]}
    """
    if value is None or value in ("", []):
        raise MessageRejected("a required value is missing", field=params.field, rule="required")
    return value


# --- seq_records / records_outcome -------------------------------------------------------------


def _whole(value: Any, what: str) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit():
        raise MessageRejected(f"{what} '{text}' is not a whole number", rule="record_seq")
    return int(text)


def _call_size(value: dict[str, Any], results: list[Any]) -> int:
    total = _whole(value.get("total"), "records")
    if total is not None:
        return total
    success, fail = (
        _whole(value.get("success"), "successCount"),
        _whole(value.get("fail"), "failCount"),
    )
    if success is not None and fail is not None:
        return success + fail
    return len(results)


def _record(item: Any, total: int, sent: list[Any]) -> tuple[int, dict[str, Any]]:
    seq = _whole(item.get("seq"), "seq")
    if seq is None or not 1 <= seq <= total:
        raise MessageRejected(f"seq {seq} is outside the call (1..{total})", rule="record_seq")
    index, xwbh = seq - 1, item.get("xwbh")
    expected = sent[index] if index < len(sent) else None
    if xwbh is not None and expected is not None and xwbh != expected:
        raise MessageRejected(f"seq {seq} answers another record than sent", rule="record_xwbh")
    record_id = xwbh if xwbh is not None else expected
    return index, {"index": index, "status": item.get("status"), "record_id": record_id,
                   "code": item.get("code")}  # fmt: skip


@define_transform("seq_records", NoParams)
def seq_records(value: Any, _: NoParams) -> Any:
    """Per-record results ``{total, success, fail, sent, results: [{seq, xwbh, status, code}]}``
    → one delivery-outcome record per record of the call, sorted by ``index`` = ``seq`` − 1.

    The call's size is ``total`` (known when the answer comes from a call), else
    ``success + fail``, else the number of results. A ``seq`` outside the call or listed twice,
    or an ``xwbh`` other than the one sent with that ``seq``, rejects the answer (its records
    cannot be matched to the call). A record the results do not mention is ``retry`` with the
    ``XWBH`` sent under its ``SEQ`` (``sent``) and code null::

        records:
          first:
            - total: /Answer/@records
              sent: {each: /Answer/Sent/XWBH, value: "."}
              results: {each: "…/records/record", fields: {seq: seq, xwbh: xwbh, …}}
          transform: [seq_records]
    """
    if not isinstance(value, dict):
        raise MessageRejected("seq_records needs an object", rule="record_seq")
    results = list(value.get("results") or [])
    sent = list(value.get("sent") or [])
    total = _call_size(value, results)
    by_index: dict[int, dict[str, Any]] = {}
    for item in results:
        index, record = _record(item, total, sent)
        if index in by_index:
            raise MessageRejected(f"seq {index + 1} is listed twice", rule="record_seq_twice")
        by_index[index] = record
    missing = {"status": "retry", "code": None}
    return [
        by_index.get(i, {"index": i, **missing, "record_id": sent[i] if i < len(sent) else None})
        for i in range(total)
    ]


TRANSFORMS: tuple[Transform, ...] = (
    supervision_item,
    officers,
    present,
    seq_records,
)
"""The transforms ``SPEC.transforms`` contributes to the ip_supervision mappings."""
