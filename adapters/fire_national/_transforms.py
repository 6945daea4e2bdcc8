"""Transforms the fire_national mappings need that the shared library does not have (yet).

Each is written for any system, so that it can move into ``runner/mapping/transforms.py``
unchanged; until then ``SPEC.transforms`` lists them.

- ``yuan_to_fen``: a yuan amount to whole 分 as an integer, exactly (README §3.1).
- ``sha256_prefix``: the first N lower-case hex characters of SHA-256 of a text (``dataId``).
- ``national_unit_type``: the N1 单位类型 of a canonical party (README §4, N1 rules).
- ``max_places``: refuse a decimal with more fraction digits than allowed (``directLossWan``).
- ``regex_group``: one group of a regular expression match (the version in ``taskId:v2``).
- ``result_records`` / ``result_outcome``: per-record results answered by ``dataId``, matched
  to the records of the call (README §5).
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform

__all__ = [
    "TRANSFORMS",
    "max_places",
    "national_unit_type",
    "regex_group",
    "result_outcome",
    "result_records",
    "sha256_prefix",
    "yuan_to_fen",
]


def _decimal(value: Any, rule: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
        raise MessageRejected(f"a {type(value).__name__} is not an amount", rule=rule)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise MessageRejected("the amount is not a decimal number", rule=rule) from None
    if not number.is_finite():
        raise MessageRejected("the amount is not a finite number", rule=rule)
    return number


# --- yuan_to_fen ------------------------------------------------------------------------------


@define_transform("yuan_to_fen", NoParams)
def yuan_to_fen(value: Any, _: NoParams) -> Any:
    """Yuan to whole 分 as an integer, exactly (``"30000.00"`` → ``3000000``); an amount with
    a fraction of a fen is refused, never rounded::

        fineAmountFen: {from: payload.fine_amount_yuan, transform: [yuan_to_fen]}
    """
    if value is None:
        return None
    fen = _decimal(value, "money_format") * 100
    if fen != fen.to_integral_value():
        raise MessageRejected("the amount is not a whole number of fen", rule="money_precision")
    return int(fen)


# --- sha256_prefix ----------------------------------------------------------------------------


class PrefixLengthParams(Params):
    length: int = 32


@define_transform("sha256_prefix", PrefixLengthParams, primary="length")
def sha256_prefix(value: Any, params: PrefixLengthParams) -> Any:
    """The first ``length`` lower-case hex characters of SHA-256 over the UTF-8 of a text::

    dataId:
      from: join('|', [source_system, source_message_id])
      transform: [{sha256_prefix: 32}]
    """
    if value is None:
        return None
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()[: params.length]


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


# --- max_places -------------------------------------------------------------------------------


class PlacesParams(Params):
    places: int


@define_transform("max_places", PlacesParams, primary="places")
def max_places(value: Any, params: PlacesParams) -> Any:
    """Pass a decimal number through unchanged when it has at most ``places`` fraction digits;
    refuse it otherwise (an amount that is not exact is never rounded)::

        involved_amount_yuan:
          from: directLossWan
          transform: [null_words, {max_places: 6}, wan_yuan]
    """
    if value is None:
        return None
    number = _decimal(value, "money_format")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > params.places:
        raise MessageRejected(
            f"the amount has more than {params.places} decimal places", rule="money_precision"
        )
    return number


# --- regex_group ------------------------------------------------------------------------------


class RegexParams(Params):
    pattern: str
    group: int = 1


@define_transform("regex_group", RegexParams, primary="pattern")
def regex_group(value: Any, params: RegexParams) -> Any:
    """Group ``group`` of the first match of ``pattern`` in a text; no match is refused (the
    text itself is not repeated in the reason)::

        version: {from: source_message_id, transform: [{regex_group: ":v(\\\\d+)$"}, integer]}
    """
    if value is None:
        return None
    compiled = _compiled(params.pattern)
    match = compiled.search(str(value))
    if match is None:
        raise MessageRejected(f"the text does not match {params.pattern}", rule="regex_group")
    return match.group(params.group)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    """Each pattern compiles once (the hot path sees the cached object)."""
    found = _PATTERNS.get(pattern)
    if found is None:
        found = _PATTERNS[pattern] = re.compile(pattern)
    return found


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


class OutcomeParams(Params):
    all_accepted: Literal["complete"] = "complete"
    otherwise: Literal["partial"] = "partial"


@define_transform("result_outcome", OutcomeParams)
def result_outcome(value: Any, params: OutcomeParams) -> Any:
    """``complete`` when every record of ``{data_ids, results}`` (as ``result_records``) is
    accepted, else ``partial``::

        outcome: {first: [{data_ids: data_ids, results: body.data.results}],
                  transform: [result_outcome]}
    """
    if value is None:
        return None
    records = _matched(*_results(value))
    if all(r["status"] == "accepted" for r in records):
        return params.all_accepted
    return params.otherwise


TRANSFORMS: tuple[Transform, ...] = (
    yuan_to_fen,
    sha256_prefix,
    national_unit_type,
    max_places,
    regex_group,
    result_records,
    result_outcome,
)
"""The transforms ``SPEC.transforms`` contributes to the fire_national mappings."""
