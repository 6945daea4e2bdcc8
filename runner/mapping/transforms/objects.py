"""Transforms of objects and lists: null keys, positions, batch records, agreement."""

from __future__ import annotations

import re
from typing import Any, Literal

from runner.mapping.transforms._base import NoParams, Params, _reject, register
from schemas.text import normalize_text


class KeysParams(Params):
    """Parameters of ``omit_nulls``: the keys that are left out when null."""

    keys: tuple[str, ...]


@register("omit_nulls", KeysParams, primary="keys")
def _omit_nulls(value: Any, params: KeysParams) -> Any:
    """An object without those of ``keys`` whose value is null (other nulls stay: a required
    field must reject, not vanish)::

        first: [{name: …, uscc: …, idType: …}]
        transform: [{omit_nulls: [uscc, idType]}]
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _reject("omit_nulls needs an object", "omit_nulls")
    return {k: v for k, v in value.items() if not (v is None and k in params.keys)}


class NumberItemsParams(Params):
    """Parameters of ``number_items``: the key of the position and the first position."""

    key: str
    start: int = 1


@register("number_items", NumberItemsParams, primary="key")
def _number_items(value: Any, params: NumberItemsParams) -> Any:
    """Each object of a list with its position (from ``start``) under ``key``, put first (an
    old value under ``key`` is replaced)::

        subjects: {each: subjects, fields: {…}, transform: [{number_items: seq}]}

    ``[{"name": "甲"}, {"name": "乙"}]`` → ``[{"seq": 1, "name": "甲"}, {"seq": 2, "name": "乙"}]``.
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _reject("number_items needs a list of objects", "number_items")
    return [
        {params.key: index, **{k: v for k, v in item.items() if k != params.key}}
        for index, item in enumerate(value, start=params.start)
    ]


class IndexRecordsParams(Params):
    """Parameters of ``index_records``: the status of a record the answer does not list."""

    missing: Literal["retry", "rejected"] = "retry"


def _record_index(item: Any, total: int) -> int:
    index = item.get("index") if isinstance(item, dict) else None
    if not isinstance(index, int) or isinstance(index, bool):
        raise _reject("a record result has no whole-number index", "record_index")
    if not 0 <= index < total:
        raise _reject(f"record index {index} is outside 0..{total - 1}", "record_index_range")
    return index


@register("index_records", IndexRecordsParams, primary="missing")
def _index_records(value: Any, params: IndexRecordsParams) -> Any:
    """Per-record results ``{total, records}`` of a batch answer → one result per index
    ``0..total-1``, sorted.

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
        raise _reject("the answer gives no record count (total)", "record_total")
    items: list[Any] = []
    for entry in value.get("records") or []:
        items += entry if isinstance(entry, list) else [entry]
    by_index: dict[int, Any] = {}
    for item in items:
        index = _record_index(item, total)
        if index in by_index:
            raise _reject(f"record index {index} is listed twice", "record_index_twice")
        by_index[index] = item
    missing = {"status": params.missing, "record_id": None, "code": None}
    return [by_index.get(i, {"index": i, **missing}) for i in range(total)]


@register("records_outcome")
def _records_outcome(value: Any, _: NoParams) -> Any:
    """The whole-call outcome of per-record results (as ``index_records`` gives them):
    ``complete`` when every record is ``accepted``, else ``partial``::

        outcome: {first: [{…same object as records…}], transform: [seq_records, records_outcome]}
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise _reject("records_outcome needs a list of record results", "records_outcome")
    return "complete" if all(r.get("status") == "accepted" for r in value) else "partial"


@register("agree")
def _agree(value: Any, _: NoParams) -> Any:
    """The value every non-null item of a list has (null when all are null); items that differ
    reject the message. The values are not repeated in the reason (they may be L3)::

        uscc:
          from: "[body.data.TYSHXYDM, requested_uscc]"
          transform: [{per_item: [fold_width, upper]}, agree]
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise _reject("agree needs a list", "agree_input")
    present = [item for item in value if item is not None]
    if any(item != present[0] for item in present[1:]):
        raise _reject(f"{len(present)} values that must agree differ", "agree")
    return present[0] if present else None


_BOOK = re.compile(r"《([^《》]*)》")
_BASIS_TRAILING = "；;，,、 \t\r\n\u3000"


@register("legal_basis_list")
def _legal_basis_list(value: Any, _: NoParams) -> Any:
    """A text of one or more ``《law》article`` → ``[{law_name, article}]``.

    Every ``《…》`` starts an entry; its article is the text up to the next ``《`` with trailing
    separators (``；;，,、`` and white space) removed, null when empty. Several articles of one
    law stay one entry; an absent value stays null (add ``{default: []}`` for an optional
    one). Text that is not a provision (no ``《…》``, text before the first one, an empty or
    unbalanced ``《》``) is refused (rule ``legal_basis_format``)::

        legal_basis: {from: wfyj, transform: [legal_basis_list]}
        # 《条例》第三十三条；《办法》第三条 → [{条例, 第三十三条}, {办法, 第三条}]
    """
    if value is None:
        return None
    text = normalize_text(str(value))
    found = list(_BOOK.finditer(text))
    if (
        not found
        or text[: found[0].start()].strip(_BASIS_TRAILING)
        or "》" in text[: found[0].start()]
    ):
        raise _reject("legal basis is not of the form 《law name》article …", "legal_basis_format")
    entries = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        article = text[match.end() : end].strip(_BASIS_TRAILING)
        law = normalize_text(match.group(1))
        if not law or "《" in article or "》" in article:
            raise _reject("legal basis has an empty or unbalanced 《》", "legal_basis_format")
        entries.append({"law_name": law, "article": article or None})
    return entries
