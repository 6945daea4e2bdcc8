"""Transforms the credit_fj mappings need that the shared library does not have (yet).

Each is written for any system, not only this one, so that it can move into
``runner/mapping/transforms.py`` unchanged; until then ``SPEC.transforms`` lists them.

- ``add_years``: a date (or a datetime, taken in Asia/Shanghai) plus N years, same month and
  day; 29 February becomes 28 February in a common year (README §4.1 ``CF_GSJZQ``).
- ``kind_parts``: one text part per entry of a list of kinds, from templates over the fields of
  an object, joined (README §4.3 ``CF_NR``).
- ``index_records``: per-record results of a batch answer checked against the batch size,
  gaps filled, sorted by index (README §5.3).
- ``agree``: the one value a list of values agrees on (README §4.4: the answered USCC must be
  the requested one).
- ``uscc``: a GB 32100 check of a USCC before it is sent (README §4.4 request).
"""

from __future__ import annotations

import datetime as dt
from string import Template
from typing import Any, Literal

from pydantic import Field
from pydantic_core import PydanticCustomError

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform
from schemas.identifiers import check_uscc
from schemas.timeutil import SHANGHAI

__all__ = ["TRANSFORMS", "add_years", "agree", "index_records", "kind_parts", "uscc"]


# --- add_years --------------------------------------------------------------------------------


class AddYearsParams(Params):
    years: int = 1


def _as_date(value: Any) -> dt.date:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            raise MessageRejected(
                f"'{text}' is not an ISO date or time", rule="add_years_input"
            ) from None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
        return aware.astimezone(SHANGHAI).date()
    if isinstance(value, dt.date):
        return value
    raise MessageRejected(f"{type(value).__name__} is not a date", rule="add_years_input")


@define_transform("add_years", AddYearsParams, primary="years")
def add_years(value: Any, params: AddYearsParams) -> Any:
    """A date plus ``years`` years, same month and day; 29 Feb gives 28 Feb in a common year.

    A datetime (or its ISO text) is first taken in Asia/Shanghai, then its date is used::

        CF_GSJZQ: {from: payload.decided_at, transform: [{add_years: 1}, {format_time: "%Y/%m/%d"}]}
    """
    if value is None:
        return None
    day = _as_date(value)
    year = day.year + params.years
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year
        return day.replace(year=year, day=28)


# --- kind_parts -------------------------------------------------------------------------------


class KindPartsParams(Params):
    separator: str
    parts: dict[str, str] = Field(default_factory=dict)
    alongside: dict[str, dict[str, str]] = Field(default_factory=dict)
    default: str | None = None


def _part_template(kind: str, kinds: list[Any], params: KindPartsParams) -> str:
    for other, template in params.alongside.get(kind, {}).items():
        if other in kinds:
            return template
    found = params.parts.get(kind, params.default)
    if found is None:
        raise MessageRejected(f"kind '{kind}' has no part template", rule="kind_parts_kind")
    return found


def _fill(template: str, values: dict[str, Any], kind: str) -> str:
    compiled = Template(template)
    for name in compiled.get_identifiers():
        if values.get(name) is None:
            raise MessageRejected(
                f"the part for kind '{kind}' needs {name}, which is missing",
                rule="kind_parts_value",
            )
    return compiled.substitute({k: str(v) for k, v in values.items() if v is not None})


@define_transform("kind_parts", KindPartsParams)
def kind_parts(value: Any, params: KindPartsParams) -> Any:
    """One part per entry of ``kinds`` (in order), joined with ``separator``.

    The input is an object with ``kinds`` (a list of kind ids), optionally ``names`` (the kinds'
    display names, same order) and any other fields. Each part is a ``string.Template`` over
    those fields plus ``$kind`` and ``$name``: ``alongside[kind][other]`` when kind ``other``
    is also in the list, else ``parts[kind]``, else ``default``. A part whose template names a
    missing field rejects the message::

        CF_NR:
          first:
            - kinds: payload.penalty_kinds
              names: {from: payload.penalty_kinds, codes: credit_fj/cflb}
              fine_amount_yuan: payload.fine_amount_yuan
          transform:
            - kind_parts:
                separator: "；"
                parts: {fine: "罚款人民币${fine_amount_yuan}元"}
                alongside: {confiscate_property: {confiscate_gains: "${name}"}}
                default: "${name}"
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("kinds"), list):
        raise MessageRejected("kind_parts needs an object with a list 'kinds'", rule="kind_parts")
    kinds: list[Any] = value["kinds"]
    names = value.get("names") or [None] * len(kinds)
    if len(names) != len(kinds):
        raise MessageRejected("kind_parts: 'names' and 'kinds' differ in length", rule="kind_parts")
    out = []
    for kind, name in zip(kinds, names, strict=True):
        template = _part_template(str(kind), kinds, params)
        out.append(_fill(template, {**value, "kind": kind, "name": name}, str(kind)))
    return params.separator.join(out)


# --- index_records ----------------------------------------------------------------------------


class IndexRecordsParams(Params):
    missing: Literal["retry", "rejected"] = "retry"


def _index_of(item: Any, total: int) -> int:
    index = item.get("index") if isinstance(item, dict) else None
    if not isinstance(index, int) or isinstance(index, bool):
        raise MessageRejected("a record result has no whole-number index", rule="record_index")
    if not 0 <= index < total:
        raise MessageRejected(
            f"record index {index} is outside 0..{total - 1}", rule="record_index_range"
        )
    return index


@define_transform("index_records", IndexRecordsParams, primary="missing")
def index_records(value: Any, params: IndexRecordsParams) -> Any:
    """Per-record results ``{total, records}`` → one result per index ``0..total-1``, sorted.

    ``records`` is a list of result objects with an ``index`` (or a list of such lists, e.g. the
    accepted and the rejected ones). An index outside the batch or listed twice rejects the
    answer (its records cannot be matched to the call); an index not listed gets
    ``{index, status: <missing>, record_id: null, code: null}``::

        records:
          first:
            - total: data.total
              records: [{each: data.accepted, fields: {…}}, {each: data.rejected, fields: {…}}]
          transform: [{index_records: retry}]
    """
    if value is None:
        return None
    total = value.get("total") if isinstance(value, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise MessageRejected("the answer gives no record count (total)", rule="record_total")
    items: list[Any] = []
    for entry in value.get("records") or []:
        items += entry if isinstance(entry, list) else [entry]
    by_index: dict[int, Any] = {}
    for item in items:
        index = _index_of(item, total)
        if index in by_index:
            raise MessageRejected(
                f"record index {index} is listed twice", rule="record_index_twice"
            )
        by_index[index] = item
    missing = {"status": params.missing, "record_id": None, "code": None}
    return [by_index.get(i, {"index": i, **missing}) for i in range(total)]


# --- agree ------------------------------------------------------------------------------------


@define_transform("agree", NoParams)
def agree(value: Any, _: NoParams) -> Any:
    """The value every non-null item of a list has (null when all are null); items that
    differ reject the message. The values are not repeated in the reason (they may be L3)::

        uscc:
          from: "[body.data.TYSHXYDM, requested_uscc]"
          transform: [{per_item: [fold_width, upper]}, agree]
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise MessageRejected("agree needs a list", rule="agree_input")
    present = [item for item in value if item is not None]
    if any(item != present[0] for item in present[1:]):
        raise MessageRejected(f"{len(present)} values that must agree differ", rule="agree")
    return present[0] if present else None


# --- uscc -------------------------------------------------------------------------------------


class UsccParams(Params):
    allow_placeholder: bool = False


@define_transform("uscc", UsccParams)
def uscc(value: Any, params: UsccParams) -> Any:
    """A USCC folded to half-width upper case and checked (GB 32100-2015 mod-31); a code that
    fails is rejected, never sent::

        uscc: {from: uscc, transform: [uscc], required: true}
    """
    if value is None:
        return None
    try:
        return check_uscc(str(value), allow_placeholder=params.allow_placeholder)
    except PydanticCustomError as exc:
        raise MessageRejected(exc.message(), rule=exc.type) from None


TRANSFORMS: tuple[Transform, ...] = (add_years, kind_parts, index_records, agree, uscc)
"""The transforms ``SPEC.transforms`` contributes to the credit_fj mappings."""
