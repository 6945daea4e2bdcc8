"""The wire of culture_tourism_national: JAX-WS SOAP 1.1 requests out, answers in (README §2, §3).

Outbound. Every request is written exactly as the spec's samples write it: declaration, LF,
two-space indent, prefixes ``soapenv`` and ``ex``, the wrapper element and ``AuthHeader`` in
the service namespace and **their children unqualified** (quirk 1: qualified children make the
server answer ``1003``), ``Content-Type: text/xml; charset=utf-8`` and ``SOAPAction: ""`` (the
WSDL's empty action, quoted: quirk 2). zeep (``SERVICE``, the shared ``SoapService``) reads the
WSDL for the actions; the tests check that zeep's own envelope of the same call is the same
XML. ``frame`` turns the rendered package records of ``upload_daily_package`` into the package
(``_package.build_package``), one-line Base64 and its SHA-256. ``bizDate`` is the call fact
``bizDate`` (``ebus render … --meta bizDate=20240305``), else the day before the call's clock
(the DAG uploads day D at 01:30 on D+1).

Inbound (``prepare``):

- ``download_blacklist``: an answer with ``code`` 0 is opened — white space removed from
  ``dataZipBase64`` (MIME lines, quirk 3), strict Base64, ``sha256`` checked, the ZIP read
  hardened (``adapters._transports.safezip``), ``blacklist.xml`` decoded (BOM → UTF-8;
  declared GBK/GB2312/GB18030 → GB18030; else UTF-8; quirk 4) and parsed without DTDs — and
  handed to the mapping as
  ``<BlacklistDownload bizDate=… generatedTime=… count=…><BlackList>…</BlackList>
  </BlacklistDownload>`` in UTF-8. Any failure there refuses the whole download. Other answers
  (an error ``code``, a Fault) pass as they are: the mapping makes them a delivery outcome.
- ``query_batch_result``: the records of the package the batch carries are a fact of the call
  (``meta['package_records']``: a JSON list of ``[recordType, recordId]`` in package order, set
  by the upload job; ``--meta package_records=…`` in a dry run). ``prepare`` hands the mapping
  ``<BatchQuery><package><record index type id [error]/>…</package><S:Envelope>…</BatchQuery>``,
  where ``error`` is the ``errorCode`` the answer gives the record. A ``SUCCESS`` or
  ``PARTIAL`` answer without the package records, with an error for a record the package does
  not hold (or twice), or with a ``totalCount`` that is not the package's, is refused: its
  records cannot be matched to the call (canonical.md, Delivery outcome).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from adapters._transports.http import HttpTransport
from adapters._transports.safezip import read_members
from adapters._transports.soap import (
    SOAP11_ENVELOPE,
    SOAP11_HEADERS,
    SoapService,
    endpoint_path,
    transport_for,
)
from adapters.culture_tourism_national._config import CultureTourismConfig, as_config
from adapters.culture_tourism_national._package import Package, PackageRecord, build_package
from adapters.culture_tourism_national._signing import auth_fields
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    MessageRejected,
    Outgoing,
    PermanentError,
    RawMessage,
    parse_xml,
)
from schemas.timeutil import SHANGHAI

__all__ = [
    "NAMESPACE",
    "SERVICE",
    "CultureConnection",
    "biz_date_of",
    "blacklist_document",
    "download_blacklist_request",
    "envelope",
    "frame",
    "open_transport",
    "package_records_meta",
    "prepare",
    "query_batch_result_request",
    "upload_request",
]

SYSTEM = "culture_tourism_national"
NAMESPACE = "http://exchange.whsc.mct.gov.cn/"
SERVICE = SoapService(Path(__file__).with_name("service.wsdl"), system=SYSTEM)
"""The service's WSDL (a copy of the spec's ``service.wsdl``), loaded once on first use."""

_S = f"{{{SOAP11_ENVELOPE}}}"
_EX = f"{{{NAMESPACE}}}"
_WHITE = re.compile(rb"\s+")
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_.-]+)[\"'][^>]*\?>")
_CHINESE = {"gbk", "gb2312", "gb18030", "gb_2312-80", "cp936"}
_DATE = re.compile(r"\d{8}")


def _reject(message_id: str, field: str, reason: str, rule: str) -> MessageRejected:
    return MessageRejected(reason, system=SYSTEM, message=message_id, field=field, rule=rule)


# --- outbound -----------------------------------------------------------------------------------


def envelope(
    operation: str, auth: Sequence[tuple[str, str]], params: Sequence[tuple[str, str]]
) -> bytes:
    """The request envelope of ``operation``, byte for byte as the spec's samples."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11_ENVELOPE}" xmlns:ex="{NAMESPACE}">',
        "  <soapenv:Header>",
        "    <ex:AuthHeader>",
        *(f"      <{name}>{escape(value)}</{name}>" for name, value in auth),
        "    </ex:AuthHeader>",
        "  </soapenv:Header>",
        "  <soapenv:Body>",
        f"    <ex:{operation}>",
        *(f"      <{name}>{escape(value)}</{name}>" for name, value in params),
        f"    </ex:{operation}>",
        "  </soapenv:Body>",
        "</soapenv:Envelope>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _call(
    config: CultureTourismConfig,
    operation: str,
    now: dt.datetime,
    nonce: str,
    params: Sequence[tuple[str, str]],
) -> Outgoing:
    secret = config.app_secret.get_secret_value()
    body = envelope(operation, auth_fields(config.app_key, secret, now, nonce), params)
    headers = dict(SOAP11_HEADERS)
    headers["SOAPAction"] = f'"{SERVICE.soap_action(operation)}"'
    return Outgoing(
        body=body,
        headers=headers,
        method="POST",
        path=endpoint_path(str(config.endpoint)),
        operation=operation,
    )


def upload_request(
    config: CultureTourismConfig, package: Package, now: dt.datetime, nonce: str = ""
) -> Outgoing:
    """``uploadDailyPackage(orgCode, bizDate, packageZipBase64, sha256)`` of ``package``;
    a package over ``max_package_bytes`` is refused before the call (the ministry: ``2005``)."""
    if len(package.zip_bytes) > config.max_package_bytes:
        raise PermanentError(
            f"{SYSTEM} upload_daily_package: the package of {package.biz_date} has "
            f"{len(package.zip_bytes)} bytes, over {config.max_package_bytes} (README §2.3)",
            code="2005",
        )
    encoded = base64.b64encode(package.zip_bytes).decode("ascii")
    params = (
        ("orgCode", config.org_code),
        ("bizDate", package.biz_date),
        ("packageZipBase64", encoded),
        ("sha256", package.sha256),
    )
    return _call(config, "uploadDailyPackage", now, nonce, params)


def query_batch_result_request(
    config: CultureTourismConfig, batch_id: str, now: dt.datetime, nonce: str = ""
) -> Outgoing:
    """``queryBatchResult(batchId)``."""
    return _call(config, "queryBatchResult", now, nonce, (("batchId", batch_id),))


def download_blacklist_request(
    config: CultureTourismConfig, biz_date: str, now: dt.datetime, nonce: str = ""
) -> Outgoing:
    """``downloadBlacklist(bizDate)``."""
    return _call(config, "downloadBlacklist", now, nonce, (("bizDate", biz_date),))


def biz_date_of(call: CallContext) -> str:
    """The ``bizDate`` of an upload: the call fact ``bizDate``, else the day before ``now``."""
    given = call.extra.get("bizDate", "").strip()
    if given:
        if not _DATE.fullmatch(given):
            raise PermanentError(
                f"{SYSTEM}: call fact bizDate '{given}' is not yyyyMMdd", code="SOAP_REQUEST"
            )
        return given
    local = call.now.astimezone(SHANGHAI) if call.now.tzinfo else call.now
    return (local.date() - dt.timedelta(days=1)).strftime("%Y%m%d")


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """``AdapterSpec.frame``: the rendered package records become a signed upload."""
    if message_id != "upload_daily_package":
        raise PermanentError(
            f"{SYSTEM} {message_id}: only upload_daily_package is rendered from a mapping",
            code="SOAP_REQUEST",
        )
    settings = as_config(config)
    package = build_package(document, settings.org_code, biz_date_of(call))
    return upload_request(settings, package, call.now, call.nonce)


class CultureConnection:
    """``SPEC.connect``: one HTTP transport for uploads (read 120 s), one for the rest (60 s)."""

    def __init__(self, upload: HttpTransport, other: HttpTransport) -> None:
        self._upload = upload
        self._other = other

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` with the timeouts of its operation."""
        transport = self._upload if call.operation == "uploadDailyPackage" else self._other
        return transport.send(call)

    def close(self) -> None:
        """Close both transports."""
        self._upload.close()
        self._other.close()


def open_transport(config: AdapterConfig) -> CultureConnection:
    """``AdapterSpec.connect``: the transports at ``config.endpoint`` with the spec's timeouts."""
    settings = as_config(config)

    def make(read_timeout_s: float) -> HttpTransport:
        return transport_for(
            SYSTEM,
            str(settings.endpoint),
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=read_timeout_s,
        )

    return CultureConnection(make(settings.upload_read_timeout_s), make(settings.read_timeout_s))


# --- inbound ------------------------------------------------------------------------------------


def _return(root: etree._Element, response: str) -> etree._Element | None:
    """The ``return`` element of a ``<response>`` answer, or None (a Fault, something else)."""
    body = root.find(f"{_S}Body")
    wrapper = body.find(f"{_EX}{response}") if body is not None else None
    return wrapper.find("return") if wrapper is not None else None


def _decode_text(data: bytes, message_id: str) -> bytes:
    """``blacklist.xml`` as UTF-8 bytes without its declaration (README §3.3 step 3)."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    else:
        declared = _DECLARED.match(data)
        name = declared.group(1).decode("ascii").lower() if declared else "utf-8"
        encoding = "gb18030" if name in _CHINESE else name
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise _reject(
            message_id, "blacklist.xml", f"the file does not decode as {encoding}", "encoding"
        ) from None
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    return text.encode("utf-8")


def blacklist_document(raw: RawMessage, config: CultureTourismConfig) -> bytes:
    """The document the ``download_blacklist`` mapping reads (see the module docstring)."""
    message_id = "download_blacklist"
    root = parse_xml(raw.body)
    result = _return(root, "downloadBlacklistResponse")
    if result is None or (result.findtext("code") or "").strip() != "0":
        return raw.body
    text = _WHITE.sub(b"", (result.findtext("dataZipBase64") or "").encode("ascii", "replace"))
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _reject(message_id, "dataZipBase64", "not valid Base64", "base64") from None
    digest = (result.findtext("sha256") or "").strip().lower()
    if hashlib.sha256(data).hexdigest() != digest:
        raise _reject(message_id, "sha256", "the ZIP does not match its sha256", "sha256_mismatch")
    members = read_members(
        data, ("blacklist.xml",), field="dataZipBase64", max_bytes=config.max_blacklist_bytes
    )
    inner = parse_xml(_decode_text(members["blacklist.xml"], message_id))
    if inner.tag != "BlackList":
        raise _reject(message_id, "blacklist.xml", "the root is not <BlackList>", "blacklist_root")
    wrapper = etree.Element("BlacklistDownload")
    for name in ("bizDate", "generatedTime", "count"):
        wrapper.set(name, (result.findtext(name) or "").strip())
    wrapper.append(inner)
    return etree.tostring(wrapper, encoding="utf-8", xml_declaration=False)


def package_records_meta(records: Sequence[PackageRecord]) -> str:
    """``meta['package_records']`` of a ``queryBatchResult`` answer for a package."""
    return json.dumps([list(r) for r in records], ensure_ascii=False, separators=(",", ":"))


def _package_records(raw: RawMessage, message_id: str) -> list[PackageRecord] | None:
    text = raw.meta.get("package_records")
    if not text:
        return None
    try:
        items = json.loads(text)
        records = [(str(kind), str(record_id)) for kind, record_id in items]
    except (ValueError, TypeError):
        raise _reject(
            message_id, "package_records", "not a JSON list of [type, id]", "request_facts"
        ) from None
    return records


def _record_errors(result: etree._Element, records: Sequence[PackageRecord]) -> dict[int, str]:
    """Index → errorCode of the records the answer refuses; unmatched errors are refused."""
    message_id = "query_batch_result"
    index = {record: i for i, record in enumerate(records)}
    errors: dict[int, str] = {}
    for error in result.iterfind("errors/error"):
        key = (
            (error.findtext("recordType") or "").strip(),
            (error.findtext("recordId") or "").strip(),
        )
        code = (error.findtext("errorCode") or "").strip()
        if key not in index:
            raise _reject(
                message_id, "errors.error.recordId",
                f"an error for {key[0]} '{key[1][:40]}', which the package does not hold",
                "record_unmatched",
            )  # fmt: skip
        if index[key] in errors:
            raise _reject(
                message_id, "errors.error.recordId",
                f"{key[0]} '{key[1][:40]}' is listed twice", "record_unmatched",
            )  # fmt: skip
        if not code:
            raise _reject(
                message_id, "errors.error.errorCode", "an error without a code", "required"
            )
        errors[index[key]] = code
    return errors


def batch_query_document(raw: RawMessage) -> bytes:
    """The document the ``query_batch_result`` mapping reads (see the module docstring)."""
    message_id = "query_batch_result"
    root = parse_xml(raw.body)
    result = _return(root, "queryBatchResultResponse")
    records = _package_records(raw, message_id)
    package = etree.Element("package")
    status = (result.findtext("status") or "").strip() if result is not None else ""
    code = (result.findtext("code") or "").strip() if result is not None else ""
    if result is not None and code == "0" and status in ("SUCCESS", "PARTIAL"):
        if records is None:
            raise _reject(
                message_id, "package_records",
                "the records of the package are unknown (meta package_records missing)",
                "request_unknown",
            )  # fmt: skip
        total = (result.findtext("totalCount") or "").strip()
        if total != str(len(records)):
            raise _reject(
                message_id, "totalCount",
                f"totalCount {total or '(none)'} is not the {len(records)} records of the package",
                "record_count",
            )  # fmt: skip
        errors = _record_errors(result, records)
        for i, (kind, record_id) in enumerate(records):
            item = etree.SubElement(package, "record", index=str(i), type=kind, id=record_id)
            if i in errors:
                item.set("error", errors[i])
    wrapper = etree.Element("BatchQuery")
    wrapper.append(package)
    wrapper.append(root)
    return etree.tostring(wrapper, encoding="utf-8", xml_declaration=False)


_PREPARERS: dict[str, Callable[[RawMessage, CultureTourismConfig], bytes]] = {
    "download_blacklist": blacklist_document,
    "query_batch_result": lambda raw, _config: batch_query_document(raw),
}


def prepare(message_id: str, raw: RawMessage, config: AdapterConfig) -> bytes:
    """``AdapterSpec.prepare``: open a blacklist download, attach a query's package records."""
    preparer = _PREPARERS.get(message_id)
    if preparer is None:
        return raw.body
    try:
        return preparer(raw, as_config(config))
    except MessageRejected as exc:
        raise exc.located(system=SYSTEM, message=message_id) from None
