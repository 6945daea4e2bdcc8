"""Decoding raw wire bytes into documents: text encodings, hardened XML, JSON, JSON Lines, CSV.

Every parser here refuses what the bus never needs and an attacker may send: an XML DTD or
entity declaration (XXE, billion laughs), network access, documents over the size limit, and
bytes that do not decode in the declared encoding. Each refusal is a ``MessageRejected`` with
the rule that was broken.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import threading
from typing import Any, Literal

from lxml import etree

from runner.errors import MessageRejected

__all__ = [
    "MAX_BYTES",
    "Format",
    "decode_text",
    "parse_csv",
    "parse_document",
    "parse_json",
    "parse_jsonl",
    "parse_xml",
]

Format = Literal["xml", "json", "jsonl", "csv"]
MAX_BYTES = 8 * 1024 * 1024
"""The largest wire document the bus parses (8 MiB); larger ones are rejected unread."""

_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "utf8": "utf-8", "utf-8-sig": "utf-8"}
# GB2312 and GBK are subsets of GB18030: decoding them as GB18030 accepts every valid document and
# also the characters that senders who declare GB2312 routinely emit beyond it.


def _codec(encoding: str) -> str:
    name = encoding.strip().lower().replace("_", "-")
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise MessageRejected(
            f"declared encoding '{encoding}' is unknown", rule="unknown_encoding"
        ) from None


def check_size(raw: bytes, limit: int = MAX_BYTES) -> None:
    """Refuse a document larger than ``limit`` bytes before reading it."""
    if len(raw) > limit:
        raise MessageRejected(
            f"document of {len(raw)} bytes exceeds the limit of {limit} bytes", rule="too_large"
        )


def decode_text(raw: bytes, encoding: str = "utf-8") -> str:
    """Decode ``raw`` in its declared encoding; a UTF-8 BOM is dropped; bad bytes are refused."""
    codec = _codec(encoding)
    if raw.startswith(codecs.BOM_UTF8) and codec in ("utf-8", "gb18030"):
        raw, codec = raw[len(codecs.BOM_UTF8) :], "utf-8"
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise MessageRejected(
            f"bytes {exc.start}-{exc.end} do not decode as {encoding}", rule="undecodable"
        ) from None


_parsers = threading.local()


def _xml_parser() -> etree.XMLParser:
    """The hardened parser, made once per thread (an lxml parser is not thread-safe)."""
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_blank_text=False,
            strip_cdata=True,
        )
        _parsers.parser = parser
    return parser


def parse_xml(raw: bytes | str, encoding: str | None = None) -> etree._Element:
    """Parse XML with DTDs, entities and network access refused.

    ``raw`` may be bytes (the declaration's encoding, or ``encoding`` when given, decodes it) or
    an already decoded string (its declaration, often a false ``encoding="utf-16"``, is ignored).
    """
    if isinstance(raw, str):
        data = _drop_declaration(raw).encode("utf-8")
    elif encoding:
        data = _drop_declaration(decode_text(raw, encoding)).encode("utf-8")
    else:
        data = raw
    check_size(data)
    head = data[:4096]
    if b"<!" in head and (b"<!DOCTYPE" in (upper := head.upper()) or b"<!ENTITY" in upper):
        raise MessageRejected("XML with a DTD or entity declaration is refused", rule="xml_dtd")
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as exc:
        raise MessageRejected(f"malformed XML: {exc.msg}", rule="malformed_xml") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise MessageRejected("XML with a DTD or entity declaration is refused", rule="xml_dtd")
    return root


def _drop_declaration(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<?xml"):
        end = stripped.find("?>")
        if end != -1:
            return stripped[end + 2 :]
    return stripped


def _refuse_constant(name: str) -> Any:
    raise MessageRejected(f"JSON constant {name} is not allowed", rule="malformed_json")


def parse_json(raw: bytes, encoding: str = "utf-8") -> Any:
    """Parse one JSON document (NaN and Infinity refused; numbers with a fraction kept exact)."""
    check_size(raw)
    text = decode_text(raw, encoding)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_exact_float)
    except json.JSONDecodeError as exc:
        raise MessageRejected(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            rule="malformed_json",
        ) from None


def _exact_float(text: str) -> Any:
    from decimal import Decimal  # noqa: PLC0415  (rarely used: only for numbers with fractions)

    return Decimal(text)


def parse_jsonl(raw: bytes, encoding: str = "utf-8") -> list[Any]:
    """Parse JSON Lines: one JSON value per non-empty line; the line number names a bad line."""
    check_size(raw, limit=MAX_BYTES * 32)
    text = decode_text(raw, encoding)
    items: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(
                json.loads(line, parse_constant=_refuse_constant, parse_float=_exact_float)
            )
        except json.JSONDecodeError as exc:
            raise MessageRejected(
                f"malformed JSON on line {number}: {exc.msg}", rule="malformed_json"
            ) from None
    return items


def parse_csv(raw: bytes, encoding: str = "utf-8", delimiter: str = ",") -> list[dict[str, str]]:
    """Parse CSV with a header row into one dict per row; a row of the wrong width is refused."""
    check_size(raw, limit=MAX_BYTES * 32)
    text = decode_text(raw, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip() for cell in rows[0]]
    out: list[dict[str, str]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise MessageRejected(
                f"CSV row {number} has {len(row)} fields, the header has {len(header)}",
                rule="malformed_csv",
            )
        out.append(dict(zip(header, row, strict=True)))
    return out


def parse_document(raw: bytes, fmt: Format, encoding: str = "utf-8") -> Any:
    """Parse ``raw`` as ``fmt``: an lxml element, JSON data, a list of JSON values or CSV rows."""
    if fmt == "xml":
        return parse_xml(raw, encoding if encoding.lower() not in ("", "auto") else None)
    if fmt == "json":
        return parse_json(raw, encoding)
    if fmt == "jsonl":
        return parse_jsonl(raw, encoding)
    return parse_csv(raw, encoding)
