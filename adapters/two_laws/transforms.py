"""Transforms the two_laws mappings need that the shared library does not have (yet).

- ``prosecution_threshold``: 涉嫌罪名, 追诉标准标识 and 达标比例 of a case from the
  procuratorate's ``thresholds.csv`` (README §3.2). Specific to this system.

``figures_text`` (``cfsj``), ``trailing_parenthesis`` (``wsmc``/``wsh``) and ``uscc`` are shared
transforms (``runner/mapping/transforms/``).

``entry_due`` is the rule of README §3.1 for a first infoType 01: the case has a row and
reaches 80 % of its amount threshold, or the row has none. ``entry_condition`` is the same rule
as a JMESPath route condition (route conditions cannot call Python): the filter of
``routes/two_laws-case-entries.yaml``, which a test keeps equal to it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Literal

from runner.adapter_api import MessageRejected, Params, Transform, define_transform

__all__ = [
    "THRESHOLDS_FILE",
    "TRANSFORMS",
    "Threshold",
    "entry_condition",
    "entry_due",
    "prosecution_threshold",
    "threshold_flags",
    "thresholds",
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


def _names(rows: list[Threshold]) -> str:
    quoted = ", ".join("'" + r.violation_type.replace("'", "\\'") + "'" for r in rows)
    return f"contains([{quoted}], payload.violation_type)"


def entry_condition(path: Path = THRESHOLDS_FILE) -> str:
    """``entry_due`` as a JMESPath condition over an envelope, written from ``thresholds.csv``:
    a conduct-based row, or ``involved_amount_yuan`` at or above 80 % of the row's threshold.

    The bound is written exactly (a decimal literal); amounts have two decimals, so comparing
    them as JSON numbers cannot round across it.
    """
    rows = list(thresholds(path).values())
    terms = [_names([r for r in rows if r.threshold_yuan is None])]
    bounds: dict[Decimal, list[Threshold]] = {}
    for row in rows:
        if row.threshold_yuan is not None:
            bounds.setdefault(row.threshold_yuan * _NEAR, []).append(row)
    for bound, group in sorted(bounds.items()):
        literal = format(bound.normalize(), "f")
        terms.append(f"({_names(group)} && to_number(payload.involved_amount_yuan) >= `{literal}`)")
    return " || ".join(terms)


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


TRANSFORMS: tuple[Transform, ...] = (prosecution_threshold,)
"""The transforms ``SPEC.transforms`` contributes."""
