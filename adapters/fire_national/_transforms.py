"""Transforms the fire_national mappings need that the shared library does not have (yet),
listed in ``SPEC.transforms``; the generic ones they use are shared
(``runner/mapping/transforms/``): ``yuan_to_fen`` (README §3.1), ``sha256_prefix``
(``dataId``), ``max_places`` (``directLossWan``) and ``regex_group`` (the version in
``taskId:v2``).

- ``national_unit_type``: the N1 单位类型 of a canonical party (README §4, N1 rules).
- ``result_records``: per-record results answered by ``dataId``, matched to the records of
  the call (README §5); the shared ``records_outcome`` makes the whole-call outcome of them.
"""

from __future__ import annotations

import re
from typing import Any

from runner.adapter_api import MessageRejected, NoParams, Transform, define_transform

__all__ = [
    "TRANSFORMS",
    "national_unit_type",
    "result_records",
]


# --- national_unit_type -----------------------------------------------------------------------

_BY_PREFIX = {
    "11": "10",
    "12": "20",
    "91": "30",
    "51": "40",
    "53": "40",
    "52": "50",
    "92": "60",
    "93": "70",
}


@define_transform("national_unit_type", NoParams)
def national_unit_type(value: Any, _: NoParams) -> Any:
    """The N1 单位类型 of a canonical party, in the spec's order: ``natural_person`` → 90,
    ``individual_business`` → 60, otherwise by the first two characters of the USCC (11 → 10,
    12 → 20, 91 → 30, 51/53 → 40, 52 → 50, 92 → 60, 93 → 70, any other → 80)::

        unitType: {from: payload.party, transform: [national_unit_type]}
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageRejected("a unit type needs a party object", rule="unit_type_input")
    kind = value.get("kind")
    if kind == "natural_person":
        return "90"
    if kind == "individual_business":
        return "60"
    uscc = value.get("uscc")
    if not isinstance(uscc, str) or len(uscc) < 2:
        raise MessageRejected(
            "an organisation without a USCC has no national unit type", rule="unit_type_uscc"
        )
    return _BY_PREFIX.get(uscc[:2], "80")


# --- result_records / result_outcome ----------------------------------------------------------

ACCEPTED = frozenset({"0", "40901"})
RETRY = frozenset({"50000", "50300"})
REJECTED = re.compile(r"400\d\d|401\d\d|403\d\d")


def _status(code: Any) -> str:
    text = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else ""
    if text in ACCEPTED:
        return "accepted"
    if text in RETRY:
        return "retry"
    if REJECTED.fullmatch(text):
        return "rejected"
    raise MessageRejected("a record result has an unknown code", rule="unknown_result_code")


def _results(value: Any) -> tuple[list[str] | None, list[Any]]:
    if not isinstance(value, dict):
        raise MessageRejected("results need an object", rule="results_input")
    data_ids, results = value.get("data_ids"), value.get("results")
    if results is None:
        results = []
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise MessageRejected("data.results is not a list of objects", rule="results_malformed")
    if data_ids is not None and not (
        isinstance(data_ids, list) and all(isinstance(i, str) for i in data_ids)
    ):
        raise MessageRejected("the call's dataIds are malformed", rule="results_input")
    return data_ids, results


def _matched(data_ids: list[str] | None, results: list[Any]) -> list[dict[str, Any]]:
    if data_ids is None:  # the call is unknown (a dry run): results in the order sent
        positions = {i: i for i in range(len(results))}
        order = list(range(len(results)))
        total = len(results)
    else:
        index_of = {data_id: i for i, data_id in enumerate(data_ids)}
        positions, order, total = {}, [], len(data_ids)
        for n, result in enumerate(results):
            index = index_of.get(str(result.get("dataId")))
            if index is None:
                raise MessageRejected(
                    f"result {n + 1} names a dataId the call did not send", rule="record_unknown"
                )
            if index in positions.values():
                raise MessageRejected(
                    f"record {index + 1} is answered twice", rule="record_index_twice"
                )
            positions[n] = index
            order.append(n)
    records: dict[int, dict[str, Any]] = {}
    for n in order:
        result = results[n]
        receipt = result.get("receiptNo")
        records[positions[n]] = {
            "index": positions[n],
            "status": _status(result.get("code")),
            "record_id": receipt if isinstance(receipt, str) and receipt else None,
            "code": str(result.get("code")),
        }
    missing = {"status": "retry", "record_id": None, "code": None}
    return [records.get(i, {"index": i, **missing}) for i in range(total)]


@define_transform("result_records", NoParams)
def result_records(value: Any, _: NoParams) -> Any:
    """Per-record results ``{data_ids, results}`` → one delivery-outcome record per record of
    the call, by index. ``data_ids`` are the call's ``dataId`` s in the order sent (null when
    the call is unknown: the results are then taken in the order sent). ``0`` / ``40901`` are
    ``accepted``, ``400xx`` / ``401xx`` / ``403xx`` ``rejected``, ``50000`` / ``50300``
    ``retry``; a record the answer does not mention is ``retry`` with code null. A result with
    an unknown code or ``dataId``, or a record answered twice, refuses the answer::

        records: {first: [{data_ids: data_ids, results: body.data.results}],
                  transform: [result_records]}
    """
    if value is None:
        return None
    return _matched(*_results(value))


TRANSFORMS: tuple[Transform, ...] = (
    national_unit_type,
    result_records,
)
"""The transforms ``SPEC.transforms`` contributes to the fire_national mappings."""
