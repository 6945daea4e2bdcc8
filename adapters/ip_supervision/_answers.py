"""Reading answers to ``uploadSupervisionData``: ``SPEC.prepare`` (README §6, quirks Q4-Q7).

The outcome of an answer depends on facts outside its SOAP body: the HTTP status (a 503 from
the load balancer has no body), the encoding the cluster node chose (Q5: UTF-8, UTF-8 with a
BOM, or GBK) and the call it answers (a record missing from the result list is retried with the
``XWBH`` sent under its ``SEQ``). ``prepare`` puts them into one UTF-8 document for the
mapping ``mappings/ip_supervision/upload_response.yaml``::

    <Answer status="200" records="2">
      <Sent><XWBH>榕市监处罚〔2024〕317号</XWBH><XWBH>沙市监处罚〔2024〕45号</XWBH></Sent>
      <soap:Envelope …>…the answer as received…</soap:Envelope>
    </Answer>

``records`` is the number of records of the call (``meta['records']``, set by the delivery
worker, or the length of ``meta['sent_xwbh']``, set by ``SupervisionConnection``); ``Sent``
lists ``meta['sent_xwbh']``. Both are absent in a dry run without them. The answer is parsed
with the bus's hardened parser honouring its BOM and declaration (or, without one, the charset
of ``Content-Type``); a DTD or malformed XML is refused (outcome unknown: the whole call is
sent again), except that a 5xx answer without a readable body becomes ``<Answer status="503"/>``
(the load balancer's rate limit).
"""

from __future__ import annotations

import codecs
import json
import re

from lxml import etree

from runner.adapter_api import AdapterConfig, MessageRejected, RawMessage, parse_xml

__all__ = ["prepare"]

_CHARSET = re.compile(r"charset\s*=\s*\"?([\w-]+)", re.IGNORECASE)


def _declared(body: bytes) -> bool:
    return body.startswith((codecs.BOM_UTF8, b"<?xml"))


def _charset(raw: RawMessage) -> str | None:
    match = _CHARSET.search(raw.headers.get("content-type", ""))
    return match.group(1) if match else None


def _envelope(raw: RawMessage) -> etree._Element | None:
    """The parsed answer; None when the body is not XML (a DTD is refused outright)."""
    charset = _charset(raw)
    encoding = None if _declared(raw.body) or charset is None else charset
    try:
        return parse_xml(raw.body, encoding)
    except MessageRejected as exc:
        if exc.rule == "xml_dtd":
            raise
        return None


def _sent(raw: RawMessage) -> list[str] | None:
    text = raw.meta.get("sent_xwbh")
    if not text:
        return None
    try:
        sent = json.loads(text)
    except ValueError:
        raise MessageRejected("meta sent_xwbh is not a JSON list", rule="sent_xwbh") from None
    if not isinstance(sent, list) or not all(isinstance(x, str) for x in sent):
        raise MessageRejected("meta sent_xwbh is not a list of strings", rule="sent_xwbh")
    return sent


def _number(raw: RawMessage, name: str, default: str | None) -> int | None:
    text = raw.meta.get(name) or default
    if text is None:
        return None
    if not text.isdigit():
        raise MessageRejected(f"meta {name} '{text}' is not a number", rule=f"meta_{name}")
    return int(text)


def prepare(message_id: str, raw: RawMessage, _config: AdapterConfig) -> bytes:
    """``AdapterSpec.prepare``: the ``<Answer>`` document of ``upload_response`` (see above)."""
    if message_id != "upload_response":
        return raw.body
    status = _number(raw, "status", "200")
    assert status is not None
    sent = _sent(raw)
    records = _number(raw, "records", None)
    if records is None and sent is not None:
        records = len(sent)
    if sent is not None and records != len(sent):
        raise MessageRejected(
            f"{len(sent)} XWBH sent but the call had {records} records", rule="sent_xwbh"
        )
    answer = etree.Element("Answer", status=str(status))
    if records is not None:
        answer.set("records", str(records))
    if sent is not None:
        listing = etree.SubElement(answer, "Sent")
        for xwbh in sent:
            etree.SubElement(listing, "XWBH").text = xwbh
    envelope = _envelope(raw)
    if envelope is None and status < 500:
        raise MessageRejected(f"the answer (HTTP {status}) is not XML", rule="malformed_xml")
    if envelope is not None:
        answer.append(envelope)
    return etree.tostring(answer, encoding="utf-8")
