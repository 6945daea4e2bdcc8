"""Text transforms: trimming, case, placeholder words, prefixes and defaults."""

from __future__ import annotations

import functools
from typing import Any

from runner.mapping.transforms._base import NoParams, Params, register
from schemas.text import fold_width, normalize_text


@register("trim")
def _trim(value: Any, _: NoParams) -> Any:
    """NFC-normalise and trim a string; an empty result becomes null."""
    if value is None or not isinstance(value, str):
        return value
    text = normalize_text(value)
    return text or None


@register("fold_width")
def _fold_width(value: Any, _: NoParams) -> Any:
    """Fold full-width ASCII (``ＡＢ１２``) to half-width."""
    return fold_width(value) if isinstance(value, str) else value


@register("upper")
def _upper(value: Any, _: NoParams) -> Any:
    """Upper-case a string."""
    return value.upper() if isinstance(value, str) else value


@register("lower")
def _lower(value: Any, _: NoParams) -> Any:
    """Lower-case a string (a digest sent in upper case)."""
    return value.lower() if isinstance(value, str) else value


class NullWordsParams(Params):
    """Parameters of ``null_words``: the placeholder words, and whether letter case counts."""

    words: tuple[str, ...] = ("null", "NULL", "Null", "none", "None")
    case_insensitive: bool = False


@functools.cache
def _folded(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(word.casefold() for word in words)


@register("null_words", NullWordsParams, primary="words")
def _null_words(value: Any, params: NullWordsParams) -> Any:
    """Treat placeholder words (``"null"`` by default) and blank text as absent; with
    ``case_insensitive: true`` in any letter case::

        address: {from: ZS, transform: [{null_words: {words: ["null"], case_insensitive: true}}]}
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text in params.words:
        return None
    if params.case_insensitive and text.casefold() in _folded(params.words):
        return None
    return value


@register("null_any_case")
def _null_any_case(value: Any, _: NoParams) -> Any:
    """Blank text (U+3000 too) or the word ``null`` in any letter case (``NULL``, ``nUlL``) is
    absent; any other text is NFC-normalised and trimmed. The value rule of systems that send
    ``null`` for "no value" in whatever case::

        address: {from: Address, transform: [null_any_case]}
    """
    # null_words with words ["null"], case-insensitive, inlined: it runs on most fields
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text.casefold() == "null":
        return None
    return normalize_text(value)


class LengthParams(Params):
    """Parameters of ``first_chars``: how many characters."""

    length: int


@register("first_chars", LengthParams, primary="length")
def _first_chars(value: Any, params: LengthParams) -> Any:
    """The first ``length`` characters of a text (a division code from an organ code)::

    division_code: {from: organ.code, transform: [{first_chars: 6}]}
    """
    if value is None:
        return None
    return str(value)[: params.length]


class PrefixParams(Params):
    """Parameters of ``strip_prefix``: the prefix."""

    text: str


@register("strip_prefix", PrefixParams, primary="text")
def _strip_prefix(value: Any, params: PrefixParams) -> Any:
    """Remove a fixed prefix (``身份码:``) when present."""
    return value.removeprefix(params.text) if isinstance(value, str) else value


class DefaultParams(Params):
    """Parameters of ``default``: the value an absent one gets."""

    value: Any


@register("default", DefaultParams, primary="value")
def _default(value: Any, params: DefaultParams) -> Any:
    """Give a value to an absent one."""
    return params.value if value is None else value
