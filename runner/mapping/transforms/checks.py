"""Checks that pass a value unchanged or reject the message: patterns, sizes, booleans."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from pydantic import AfterValidator

from runner.mapping.transforms._base import NoParams, Params, _reject, register


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """Each pattern of a mapping compiles once per process, when the mapping is loaded."""
    return re.compile(pattern)


def _compiles(pattern: str) -> str:
    try:
        _compiled(pattern)
    except re.error as exc:
        raise ValueError(f"'{pattern}' is not a regular expression ({exc})") from None
    return pattern


Regex = Annotated[str, AfterValidator(_compiles)]
"""A regular expression parameter: one that does not compile is a lint error."""


class MatchesParams(Params):
    """Parameters of ``matches``: the regular expression and the rule a refusal carries."""

    pattern: Regex
    rule: str = "pattern"


def _pattern_of(value: Any, pattern: str, rule: str) -> str:
    """The text of a string or whole number for a pattern check; other types are refused."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _reject(f"a text matching {pattern} is expected", rule)
    return str(value)


@register("matches", MatchesParams, primary="pattern")
def _matches(value: Any, params: MatchesParams) -> Any:
    """The text unchanged when it matches ``pattern`` whole (a whole number is matched and
    given as its digits); anything else rejects the message with rule ``rule`` (default
    ``pattern``). The reason names the pattern, never the value::

        organ_code: {from: organ.code, transform: [{matches: "\\\\d{12}"}], required: true}
        certificate_no: {from: 执法证号, transform: [{matches: {pattern: "\\\\d{11}",
                                                               rule: certificate_no_format}}]}
    """
    if value is None:
        return None
    text = _pattern_of(value, params.pattern, params.rule)
    if not _compiled(params.pattern).fullmatch(text):
        raise _reject(f"the value does not match {params.pattern}", params.rule)
    return text


class RegexGroupParams(Params):
    """Parameters of ``regex_group``: the expression, the group (default: the first group, or
    the whole match when the expression has none) and the rule a refusal carries."""

    pattern: Regex
    group: int | None = None
    rule: str = "pattern"


@register("regex_group", RegexGroupParams, primary="pattern")
def _regex_group(value: Any, params: RegexGroupParams) -> Any:
    """One group of the first match of ``pattern`` searched in a text; no match rejects the
    message (the text is not repeated in the reason)::

        version: {from: source_message_id, transform: [{regex_group: ":v(\\\\d+)$"}, integer]}
    """
    if value is None:
        return None
    compiled = _compiled(params.pattern)
    found = compiled.search(_pattern_of(value, params.pattern, params.rule))
    if found is None:
        raise _reject(f"the value does not contain {params.pattern}", params.rule)
    if params.group is not None:
        return found.group(params.group)
    return found.group(1) if compiled.groups else found.group(0)


class RangeParams(Params):
    """Parameters of a size check: the least and the most allowed (no most: unbounded)."""

    min: int = 0
    max: int | None = None


def _outside(size: int, params: RangeParams) -> bool:
    return size < params.min or (params.max is not None and size > params.max)


def _range_text(params: RangeParams) -> str:
    return f"{params.min}..{'' if params.max is None else params.max}"


@register("length", RangeParams)
def _length(value: Any, params: RangeParams) -> Any:
    """A text of ``min``..``max`` characters passes unchanged; a shorter or longer one rejects
    the message (never truncated: the text may be someone's statement)::

        CLCS: {from: payload.findings, transform: [{length: {min: 10, max: 2000}}]}
        zxqk: {from: note, transform: [{length: {max: 500}}, null_as_empty]}
    """
    if value is None:
        return None
    size = len(str(value))
    if _outside(size, params):
        raise _reject(f"{size} characters; {_range_text(params)} are allowed", "length")
    return value


@register("count", RangeParams)
def _count(value: Any, params: RangeParams) -> Any:
    """A list of ``min``..``max`` items passes unchanged; any other count (null counts as none)
    rejects the message::

        officers: {each: officers, fields: {…}, transform: [{count: {min: 2}}]}
    """
    items = [] if value is None else value
    if not isinstance(items, list):
        raise _reject("count needs a list", "count")
    if _outside(len(items), params):
        raise _reject(f"{len(items)} items; {_range_text(params)} are allowed", "count")
    return items


@register("non_empty")
def _non_empty(value: Any, _: NoParams) -> Any:
    """An empty list is absent, so that ``required: true`` rejects a list that needs an item::

    legal_basis: {each: Basis, fields: {…}, transform: [non_empty], required: true}
    """
    if isinstance(value, list) and not value:
        return None
    return value


@register("strict_boolean")
def _strict_boolean(value: Any, _: NoParams) -> Any:
    """A JSON boolean, kept; text such as ``"是"`` or ``"true"`` is refused (where a spec says
    boolean, a guess could publish what never happened)::

        license_flag: {from: decision.licenseAffected, transform: [strict_boolean]}
    """
    if value is None or isinstance(value, bool):
        return value
    raise _reject("the value is not true or false", "boolean_format")
