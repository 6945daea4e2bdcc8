"""Transforms the two_laws mappings need that the shared library does not have (yet).

- ``prosecution_threshold``: 涉嫌罪名, 追诉标准标识 and 达标比例 of a case from the
  procuratorate's ``thresholds.csv`` (README §3.2). Specific to this system.
- ``figures_text``: ``triggered_by.figures`` as ``name=value/threshold`` items (README §3.4
  ``cfsj``). Written for any system, so that it can move into ``runner/mapping/transforms.py``.
- ``trailing_parenthesis``: a document name without / only its trailing ``（文号）``
  (README §3.4 ``wsmc``/``wsh``; canonical.md ``documents[].name``). Generic as well.

``entry_due`` is the rule of README §3.1 for a first infoType 01: the case has a row and
reaches 80 % of its amount threshold, or the row has none.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Literal

from adapters.credit_fj.transforms import uscc
from runner.adapter_api import MessageRejected, Params, Transform, define_transform

__all__ = [
    "THRESHOLDS_FILE",
    "TRANSFORMS",
    "Threshold",
    "entry_due",
    "figures_text",
    "prosecution_threshold",
    "threshold_flags",
    "thresholds",
    "trailing_parenthesis",
]

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.csv")
"""A copy of the spec's ``thresholds.csv`` (maintained by the 省检察院; replace it on update)."""
_NEAR = Decimal("0.8")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Threshold:
    """One row of ``thresholds.csv``: the offence and its amount threshold (None: conduct)."""

    violation_type: str
    suspected_offence: str
    threshold_yuan: Decimal | None


@cache
def thresholds(path: Path = THRESHOLDS_FILE) -> Mapping[str, Threshold]:
    """The rows of ``thresholds.csv`` by ``violation_type`` (read once)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        row["violation_type"].strip(): Threshold(
            row["violation_type"].strip(),
            row["suspected_offence"].strip(),
            Decimal(row["threshold_yuan"]) if row["threshold_yuan"].strip() else None,
        )
        for row in rows
    }


def _amount(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal("0.00")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise MessageRejected(f"'{value}' is not an amount", rule="amount_format") from None


def threshold_flags(violation_type: str | None, amount: Any) -> dict[str, str | None]:
    """``{xyzm, zsbz, zsbl}`` of README §3.2 (all None when the violation type has no row).

    Below 80 % of an amount threshold the offence and ratio are given and ``zsbz`` is None: the
    spec defines no flag for it (such a case is sent only as an update of an entered case).
    """
    row = thresholds().get((violation_type or "").strip())
    if row is None:
        return {"xyzm": None, "zsbz": None, "zsbl": None}
    if row.threshold_yuan is None:
        return {"xyzm": row.suspected_offence, "zsbz": "3", "zsbl": None}
    value = _amount(amount)
    ratio = (value / row.threshold_yuan * 100).quantize(_CENT, rounding=ROUND_HALF_UP)
    if value >= row.threshold_yuan:
        flag: str | None = "1"
    elif value >= row.threshold_yuan * _NEAR:
        flag = "2"
    else:
        flag = None
    return {"xyzm": row.suspected_offence, "zsbz": flag, "zsbl": f"{ratio:.2f}"}


def entry_due(payload: Mapping[str, Any]) -> bool:
    """True when an ``enforcement.case.v1`` payload is due as a first infoType 01 (§3.1)."""
    flags = threshold_flags(payload.get("violation_type"), payload.get("involved_amount_yuan"))
    return flags["zsbz"] is not None


# --- prosecution_threshold ----------------------------------------------------------------------


class ThresholdParams(Params):
    part: Literal["xyzm", "zsbz", "zsbl"]


@define_transform("prosecution_threshold", ThresholdParams, primary="part")
def prosecution_threshold(value: Any, params: ThresholdParams) -> Any:
    """One of ``xyzm`` 涉嫌罪名, ``zsbz`` 追诉标准标识, ``zsbl`` 达标比例 of a case (README §3.2),
    from ``{violation_type, amount}`` and the procuratorate's ``thresholds.csv``::

        zsbz:
          from: "{violation_type: payload.violation_type, amount: payload.involved_amount_yuan}"
          transform: [{prosecution_threshold: zsbz}]
    """
    if not isinstance(value, dict):
        raise MessageRejected(
            "prosecution_threshold needs {violation_type, amount}", rule="threshold_input"
        )
    return threshold_flags(value.get("violation_type"), value.get("amount"))[params.part]


# --- figures_text -------------------------------------------------------------------------------


class FiguresParams(Params):
    separator: str = ";"
    prefix: str = "threshold_"


@define_transform("figures_text", FiguresParams, primary="separator")
def figures_text(value: Any, params: FiguresParams) -> Any:
    """A figures object (``{name: value, threshold_<name>: threshold}``) as ``name=value/
    threshold`` items, one per key without the prefix, in object order, joined; a missing
    threshold is empty; no figures give null::

        cfsj: {from: payload.triggered_by.figures, transform: [figures_text]}
        # {"a": "5.60", "threshold_a": "1.00", "b": "2"} → "a=5.60/1.00;b=2/"
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageRejected("figures_text needs an object", rule="figures_input")
    items = [
        f"{name}={figure}/{value.get(params.prefix + name) or ''}"
        for name, figure in value.items()
        if not name.startswith(params.prefix)
    ]
    return params.separator.join(items) or None


# --- trailing_parenthesis -----------------------------------------------------------------------


class ParenthesisParams(Params):
    part: Literal["before", "inside"]
    open: str = "（"
    close: str = "）"


def _split_trailing(text: str, params: ParenthesisParams) -> tuple[str, str | None]:
    if not text.endswith(params.close):
        return text, None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        if text[index] == params.close:
            depth += 1
        elif text[index] == params.open:
            depth -= 1
            if depth == 0:
                return text[:index].rstrip(), text[index + 1 : -1].strip()
    return text, None


@define_transform("trailing_parenthesis", ParenthesisParams, primary="part")
def trailing_parenthesis(value: Any, params: ParenthesisParams) -> Any:
    """The text ``before`` a trailing full-width parenthesis, or what is ``inside`` it (null
    when there is none); nested parentheses are kept with their part::

        wsmc: {from: name, transform: [{trailing_parenthesis: before}]}
        wsh: {from: name, transform: [{trailing_parenthesis: inside}]}
        # 立案告知书（厦公(环)立告字〔2024〕31号） → 立案告知书 | 厦公(环)立告字〔2024〕31号
    """
    if value is None:
        return None
    before, inside = _split_trailing(str(value), params)
    return before if params.part == "before" else inside


TRANSFORMS: tuple[Transform, ...] = (
    prosecution_threshold,
    figures_text,
    trailing_parenthesis,
    uscc,
)
"""The transforms ``SPEC.transforms`` contributes (``uscc`` is credit_fj's, reused as is)."""
