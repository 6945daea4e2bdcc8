"""Reading a query page of drug_admin: its records, their keys and times; in-page duplicates.

A page is a ``QueryInspectionsResponse`` (typed ``Records/Inspection``) or a
``QueryPenaltiesResponse`` whose ``ResultXml`` string holds a ``PenaltyList`` document
(README §3.1, §3.2). ``read_page`` gives what the poller needs (``HasMore``, the records'
``RecordId#Version`` and ``UpdateTime``); ``prepare`` (``AdapterSpec.prepare``) removes a
record repeated inside one page, keeping the first (README §2.4: 3.0 nodes list an inspection
once per inspection team), so that the mapping yields each key once.

``ResultXml`` is parsed with the bus's hardened parser after its false ``encoding="GBK"``
declaration is dropped (the text is already Unicode); a ResultXml that cannot be parsed is left
alone here: the mapping rejects the page with its rule (``xml_dtd``, ``malformed_xml``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lxml import etree

from adapters.drug_admin._calls import NAMESPACE
from adapters.drug_admin._wsse import SOAP12_ENVELOPE
from runner.adapter_api import AdapterConfig, MessageRejected, RawMessage, parse_xml
from schemas.timeutil import SHANGHAI

__all__ = ["Page", "RecordKey", "parse_update_time", "prepare", "read_page"]

_T = f"{{{NAMESPACE}}}"
_BODY = f"{{{SOAP12_ENVELOPE}}}Body"
_UPDATE_FORMATS = ("%Y-%m-%d %H:%M:%S",)

RecordKey = str
"""``RecordId#Version``: the canonical ``source_message_id`` and the idempotency key."""


@dataclass
class Page:
    """What the poller reads of one page: keys and update times of its records (in order)."""

    has_more: bool
    keys: list[RecordKey] = field(default_factory=list)
    update_times: list[dt.datetime] = field(default_factory=list)
    unreadable: str | None = None
    """Why the records could not be read (a bad ``ResultXml``); the page is still emitted."""


def parse_update_time(text: str) -> dt.datetime:
    """An ``UpdateTime`` as a naive Beijing time to the second: typed ``xs:dateTime`` (maybe
    with milliseconds or ``+08:00``) or ``yyyy-MM-dd HH:mm:ss`` of ``ResultXml``."""
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = dt.datetime.strptime(value, _UPDATE_FORMATS[0])
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(SHANGHAI).replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def _key(record: etree._Element, ns: str) -> RecordKey:
    record_id = (record.findtext(f"{ns}RecordId") or "").strip()
    version = (record.findtext(f"{ns}Version") or "").strip()
    return f"{record_id}#{version}"


def _inner_document(response: etree._Element) -> etree._Element:
    text = response.findtext(f"{_T}ResultXml") or ""
    return parse_xml(text)


def _records(response: etree._Element) -> tuple[list[etree._Element], str, etree._Element | None]:
    """The record elements of a response, their child namespace, and the inner document."""
    if response.tag == f"{_T}QueryInspectionsResponse":
        return response.findall(f"{_T}Records/{_T}Inspection"), _T, None
    inner = _inner_document(response)
    return inner.findall("Penalty"), "", inner


def read_page(response: etree._Element) -> Page:
    """The ``HasMore``, keys and update times of a query response element (README §2.4)."""
    has_more = (response.findtext(f"{_T}HasMore") or "").strip() in ("true", "1")
    try:
        records, ns, _ = _records(response)
    except MessageRejected as exc:
        return Page(has_more, unreadable=f"ResultXml: {exc.reason} [{exc.rule}]")
    page = Page(has_more)
    for record in records:
        page.keys.append(_key(record, ns))
        text = record.findtext(f"{ns}UpdateTime") or ""
        try:
            page.update_times.append(parse_update_time(text))
        except ValueError:
            continue  # the mapping rejects this record; the others still move the cursor
    return page


def _without_repeats(records: list[etree._Element], ns: str) -> bool:
    """Remove every record whose key came earlier in the page; True when one was removed."""
    seen: set[RecordKey] = set()
    removed = False
    for record in records:
        key = _key(record, ns)
        if key in seen:
            record.getparent().remove(record)  # type: ignore[union-attr]
            removed = True
        seen.add(key)
    return removed


def prepare(message_id: str, raw: RawMessage, config: AdapterConfig) -> bytes:
    """``AdapterSpec.prepare``: a query page without in-page repeats (other bytes unchanged).

    Returns ``raw.body`` itself when nothing repeats (the usual case) or the message is not a
    query page with records (a Fault, an ``AssignJointTaskResponse``).
    """
    if message_id not in ("query_inspections", "query_penalties"):
        return raw.body
    root = parse_xml(raw.body)
    body = root.find(_BODY)
    response = body.find(f"{_T}*") if body is not None else None
    if response is None or not response.tag.endswith("Response"):
        return raw.body
    try:
        records, ns, inner = _records(response)
    except MessageRejected:
        return raw.body
    if not _without_repeats(records, ns):
        return raw.body
    if inner is not None:
        holder = response.find(f"{_T}ResultXml")
        assert holder is not None
        holder.text = etree.tostring(inner, encoding="unicode")
    return etree.tostring(root, encoding="utf-8", xml_declaration=True)
