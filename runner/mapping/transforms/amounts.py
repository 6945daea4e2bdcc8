"""Whole numbers in a range, exact decimal places, yuan text and fen, figures text."""

from __future__ import annotations

import re
from typing import Any

from runner.mapping.transforms._base import NoParams, Params, _is_whole, _money, _reject, register
from schemas.money import parse_decimal, to_yuan
from schemas.text import fold_width, normalize_text


class WholeNumberParams(Params):
    """Parameters of ``whole_number``: the allowed range, and whether digits in a string
    count."""

    min: int | None = None
    max: int | None = None
    text: bool = False


@register("whole_number", WholeNumberParams)
def _whole_number(value: Any, params: WholeNumberParams) -> Any:
    """A whole JSON number within ``min``..``max``; with ``text: true`` also its digits as a
    string (``"10"``). Anything else is refused (rules ``whole_number``,
    ``whole_number_range``)::

        days: {from: BLSX, transform: [{whole_number: {min: 1, max: 60, text: true}}]}
    """
    if value is None:
        return None
    if params.text and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_whole(value):
        kind = "text" if isinstance(value, str) else type(value).__name__
        raise _reject(f"a whole number is required, got {kind}", "whole_number")
    if (params.min is not None and value < params.min) or (
        params.max is not None and value > params.max
    ):
        raise _reject(f"{value} is outside {params.min}..{params.max}", "whole_number_range")
    return value


class PlacesParams(Params):
    """Parameters of ``max_places``: the most fraction digits allowed."""

    places: int


@register("max_places", PlacesParams, primary="places")
def _max_places(value: Any, params: PlacesParams) -> Any:
    """A decimal number with at most ``places`` fraction digits, as an exact ``Decimal``; more
    are refused (rule ``money_precision``), never rounded::

        involved_amount_yuan: {from: directLossWan, transform: [{max_places: 6}, wan_yuan]}
    """
    if value is None:
        return None
    number = _money(parse_decimal, value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > params.places:
        raise _reject(f"the amount has more than {params.places} decimal places", "money_precision")
    return number


@register("yuan_to_fen")
def _yuan_to_fen(value: Any, _: NoParams) -> Any:
    """Yuan to whole 分 (fen) as an integer, exactly (``"30000.00"`` → ``3000000``); an amount
    with a fraction of a fen is refused (rule ``money_precision``), never rounded::

        fineAmountFen: {from: payload.fine_amount_yuan, transform: [yuan_to_fen]}
    """
    if value is None:
        return None
    return int(_money(to_yuan, value) * 100)


_GROUPED = re.compile(r"(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?")


@register("yuan_text")
def _yuan_text(value: Any, _: NoParams) -> Any:
    """An amount in 元 as people type it → yuan with two places, exactly.

    Accepts thousands separators (``,``; full-width ``，``), 0–2 decimals, a trailing ``元``,
    full-width digits (``"５，０００．００元"`` → ``5000.00``). Refuses a sign, three decimals,
    ``万`` or misplaced separators (rule ``money_format``)::

        fine_amount_yuan: {from: cfje, transform: [yuan_text]}
    """
    if value is None:
        return None
    text = normalize_text(fold_width(str(value))).removesuffix("元").strip()
    if not _GROUPED.fullmatch(text):
        raise _reject(
            "the amount is not in yuan (digits, optional thousands separators, at most 2 "
            "decimals, optional 元)",
            "money_format",
        )
    return _money(to_yuan, text.replace(",", ""))


class FiguresParams(Params):
    """Parameters of ``figures_text``: the item separator and the prefix of threshold keys."""

    separator: str = ";"
    prefix: str = "threshold_"


@register("figures_text", FiguresParams, primary="separator")
def _figures_text(value: Any, params: FiguresParams) -> Any:
    """A figures object (``{name: value, threshold_<name>: threshold}``) as ``name=value/
    threshold`` items, one per key without the prefix, in object order, joined; a missing
    threshold is empty; no figures give null::

        cfsj: {from: payload.triggered_by.figures, transform: [figures_text]}
        # {"a": "5.60", "threshold_a": "1.00", "b": "2"} → "a=5.60/1.00;b=2/"
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _reject("figures_text needs an object", "figures_input")
    items = [
        f"{name}={figure}/{value.get(params.prefix + name) or ''}"
        for name, figure in value.items()
        if not name.startswith(params.prefix)
    ]
    return params.separator.join(items) or None
