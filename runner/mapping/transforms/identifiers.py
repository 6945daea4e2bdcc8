"""Identifier and code transforms: USCC, ids, division codes, digests, code tables."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic_core import PydanticCustomError

from runner.errors import MessageRejected
from runner.mapping.transforms._base import NoParams, Params, _is_whole, _reject, register
from schemas.identifiers import check_uscc
from schemas.text import normalize_text


class UsccParams(Params):
    """Parameters of ``uscc``: the wire field a refusal names (outbound mappings, where the
    ``required`` modifier names none) and whether the individual-business placeholder
    ``00000000000000000X`` passes."""

    field: str | None = None
    allow_placeholder: bool = False


@register("uscc", UsccParams, primary="field")
def _uscc(value: Any, params: UsccParams) -> Any:
    """A USCC (统一社会信用代码) folded to half-width upper case and checked (GB 32100-2015
    mod 31); a code that fails rejects the message, never sent on. For codes a canonical model
    does not check (a wire field, an answer to compare)::

        uscc: {from: uscc, transform: [uscc], required: true}
        JCDXDM: {from: payload.target.uscc, transform: [{uscc: JCDXDM}]}
    """
    if value is None:
        return None
    try:
        return check_uscc(str(value), allow_placeholder=params.allow_placeholder)
    except PydanticCustomError as exc:
        raise MessageRejected(exc.message(), field=params.field, rule=exc.type) from None


_DIGITS_ID = re.compile(r"[0-9]{1,19}")


@register("digits_id")
def _digits_id(value: Any, _: NoParams) -> Any:
    """An id of 1..19 digits (a 64-bit snowflake id) kept as text; a JSON integer is taken
    exactly, never through a float. Anything else is refused (rule ``id_format``)::

        id: {from: id, transform: [digits_id], required: true}
    """
    if value is None:
        return None
    text = str(value) if _is_whole(value) else value
    if not isinstance(text, str) or not _DIGITS_ID.fullmatch(text.strip()):
        raise _reject("the id is not 1..19 digits", "id_format")
    return text.strip()


_DIVISION = re.compile(r"[0-9]{6}|[0-9]{12}")


@register("division_code")
def _division_code(value: Any, _: NoParams) -> Any:
    """A 6-digit GB/T 2260 division code as sent, or the first 6 digits of a 12-digit
    统计用区划代码 (``350104003000`` → ``350104``); any other form is refused::

        division_code: {from: QHDM, transform: [division_code]}
    """
    if value is None:
        return None
    text = str(value).strip()
    if not _DIVISION.fullmatch(text):
        raise _reject(
            "a division code has 6 digits (or 12 for a 统计用区划代码)", "division_code_format"
        )
    return text[:6]


class DigestParams(Params):
    """Parameters of ``sha256_prefix``: how many hex characters."""

    length: int = 32


@register("sha256_prefix", DigestParams, primary="length")
def _sha256_prefix(value: Any, params: DigestParams) -> Any:
    """The first ``length`` lower-case hex characters of SHA-256 over the UTF-8 of a text (a
    stable record id derived from the source's keys)::

        dataId:
          from: join('|', [source_system, source_message_id])
          transform: [{sha256_prefix: 32}]
    """
    if value is None:
        return None
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()[: params.length]


class ZeroPadParams(Params):
    """Parameters of ``zero_pad``: the width of the code."""

    width: int


@register("zero_pad", ZeroPadParams, primary="width")
def _zero_pad(value: Any, params: ZeroPadParams) -> Any:
    """Digits (a code sent as a JSON number without its leading zeros) left-padded with zeros
    to ``width`` (``1`` → ``"01"``); other text is unchanged, so that a code table refuses it::

        kind: {from: data.xklb, transform: [{zero_pad: 2}], codes: online_hall/xklb}
    """
    if value is None:
        return None
    text = str(value).strip()
    return text.zfill(params.width) if text.isascii() and text.isdigit() else text


class CodeOrDefaultParams(Params):
    """Parameters of ``code_or_default``: source value → code, and the code of any other (or
    no) value."""

    values: dict[str, str]
    default: str


@register("code_or_default", CodeOrDefaultParams)
def _code_or_default(value: Any, params: CodeOrDefaultParams) -> Any:
    """A code table with a fallback: ``value`` (NFC, trimmed) looked up in ``values``; any
    other value, or none, gives ``default`` (where "anything else" is a code of its own)::

        businessType:
          from: "payload.legal_basis[0].law_name"
          transform: [{code_or_default: {values: {旅行社条例: "09"}, default: "99"}}]
    """
    if value is None:
        return params.default
    return params.values.get(normalize_text(str(value)), params.default)
