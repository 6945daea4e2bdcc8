"""Transforms that split text into lists and pairs, and read legal-basis text."""

from __future__ import annotations

import re
from typing import Any, Literal

from runner.mapping.transforms._base import NoParams, Params, _reject, register
from schemas.text import normalize_text


class SplitParams(Params):
    """Parameters of ``split``: the regular expression between parts."""

    pattern: str


@register("split", SplitParams, primary="pattern")
def _split(value: Any, params: SplitParams) -> Any:
    """Split a string on a regular expression into trimmed, non-empty parts."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    parts = re.split(params.pattern, str(value))
    return [p for p in (normalize_text(x) for x in parts) if p]


@register("dedupe")
def _dedupe(value: Any, _: NoParams) -> Any:
    """Drop repeated list items, keeping the first occurrence (source order)."""
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if item not in out:
            out.append(item)
    return out


class PairParams(Params):
    """Parameters of ``pair``: the separator expression and the two keys."""

    pattern: str
    keys: tuple[str, str]


@register("pair", PairParams)
def _pair(value: Any, params: PairParams) -> Any:
    """Split ``姓名:执法证号`` into ``{keys[0]: 姓名, keys[1]: 执法证号}`` (second part may be
    absent)."""
    if value is None:
        return None
    left, *rest = re.split(params.pattern, str(value), maxsplit=1)
    right = normalize_text(rest[0]) if rest and rest[0].strip() else None
    return {params.keys[0]: normalize_text(left), params.keys[1]: right}


class ParenthesisParams(Params):
    """Parameters of ``trailing_parenthesis``: which part, and the parenthesis characters."""

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


@register("trailing_parenthesis", ParenthesisParams, primary="part")
def _trailing_parenthesis(value: Any, params: ParenthesisParams) -> Any:
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


_LEGAL = re.compile(r"^\s*《(?P<law>[^》]+)》\s*(?P<article>.*)$")


@register("legal_basis")
def _legal_basis(value: Any, _: NoParams) -> Any:
    """``《产品质量法》第四十九条`` → ``{law_name, article}`` (article may be null)."""
    if value is None:
        return None
    match = _LEGAL.match(str(value))
    if not match:
        raise _reject(
            f"legal basis '{value}' is not of the form 《law name》article", "legal_basis_format"
        )
    article = normalize_text(match["article"]) or None
    return {"law_name": normalize_text(match["law"]), "article": article}


@register("law_name")
def _law_name(value: Any, _: NoParams) -> Any:
    """Drop the 《》 around a law name."""
    if not isinstance(value, str):
        return value
    return normalize_text(value).removeprefix("《").removesuffix("》")
