"""A loopback simulator of the ministry's ProvinceExchangeService (JAX-WS SOAP 1.1, README §2–§5).

It behaves as the spec says, on a real HTTP server (``HttpSimulator``, so latency, 5xx, 429,
dropped connections and malformed bodies can be injected with ``inject``):

- ``GET <path>?wsdl`` serves the spec's WSDL with its ``soap:address`` pointing here;
- a request needs ``Content-Type: text/xml`` and ``SOAPAction: ""``; the wrapper element in the
  service namespace; its children **unqualified** — qualified children are ignored, so the
  answer is ``1003`` (quirk 1);
- ``AuthHeader``: unknown ``appKey`` → Fault ``1005``; ``timestamp`` off by more than 600 s →
  ``1002``; a ``nonce`` seen in the last 30 minutes (or not 16 ``[0-9a-z]``) → ``1004``; a wrong
  SM3 ``signature`` → ``1001`` (HTTP 500, ``detail/ExchangeFault``);
- ``uploadDailyPackage``: ``2005`` over 20 MB, ``2001`` when ``sha256`` does not match,
  ``2002`` when the ZIP or its files cannot be read (hardened reading, ``read_package``),
  ``2003`` with the original ``batchId`` for the same package again, ``2004`` for a different
  package of a ``bizDate`` already ``SUCCESS``/``PARTIAL``; else ``0`` and
  ``WLSC-35-<bizDate>-<seq>``. A batch is ``PROCESSING`` for ``processing_s``, then
  ``SUCCESS``, ``PARTIAL`` (records listed in ``refuse_records``) or ``FAILED``
  (``fail_packages``);
- ``queryBatchResult``: ``2101`` for an unknown batch; ``4290`` when asked again within
  ``query_interval_s``;
- ``downloadBlacklist``: ``3001`` until ``set_blacklist`` gave the date's entries; then the
  ZIP of ``blacklist.xml`` (GBK with a declaration, or UTF-8 with a BOM), MIME Base64 with CR LF
  every 76 characters (or one line). ``corrupt_next_download`` spoils the next one (``sha256``,
  ``zip_bomb``, ``traversal``, ``dtd``, ``not_zip``) to test the bus's hardening.

Example::

    with CultureTourismSimulator() as sim:
        sim.set_blacklist("20240305", [{"entryId": "WLHMD-…", "listType": "1", …}])
        ...  # sim.endpoint, sim.wsdl_url, sim.batches, sim.calls
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from lxml import etree

from adapters._simulators.http import Request, Response, ServedSimulator
from adapters._simulators.soap import rewrite_wsdl_address
from adapters._transports.soap import SOAP11_ENVELOPE
from adapters.culture_tourism_national._config import MAX_PACKAGE_BYTES
from adapters.culture_tourism_national._package import PackageRecord, read_package
from adapters.culture_tourism_national._signing import NONCE_PATTERN, sign
from runner.adapter_api import MessageRejected, parse_xml
from schemas.timeutil import SHANGHAI

__all__ = ["PATH", "Batch", "CultureTourismSimulator", "SoapRequest", "blacklist_zip"]

PATH = "/exchange/ProvinceExchangeService"
NAMESPACE = "http://exchange.whsc.mct.gov.cn/"
_WSDL = Path(__file__).with_name("service.wsdl")
_XML = {"Content-Type": "text/xml; charset=utf-8"}
_ENTRY_ORDER = (
    "entryId", "listType", "action", "subjectType", "name", "creditCode", "legalRep", "idType",
    "idNo", "areaCode", "decisionOrg", "decisionNo", "decisionDate", "reason", "measures",
    "validFrom", "validTo", "eventTime",
)  # fmt: skip
Corruption = Literal["sha256", "zip_bomb", "traversal", "dtd", "not_zip"]


@dataclass(frozen=True)
class SoapRequest:
    """One request as the service read it: operation, AuthHeader, unqualified parameters."""

    operation: str
    auth: Mapping[str, str]
    params: Mapping[str, str]


@dataclass
class Batch:
    """One received package and its processing state."""

    batch_id: str
    biz_date: str
    sha256: str
    records: tuple[PackageRecord, ...]
    received: dt.datetime
    status: str = "PROCESSING"
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)
    last_query: dt.datetime | None = None


class _Answer(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("answer")
        self.response = response


def _return(operation: str, fields: Sequence[tuple[str, str]], extra: str = "") -> bytes:
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields)
    return (
        f'<S:Envelope xmlns:S="{SOAP11_ENVELOPE}"><S:Body><ns2:{operation}Response '
        f'xmlns:ns2="{NAMESPACE}"><return>{inner}{extra}</return></ns2:{operation}Response>'
        "</S:Body></S:Envelope>"
    ).encode()


def _fault(code: str, message: str, faultstring: str, faultcode: str = "S:Client") -> Response:
    body = (
        f'<S:Envelope xmlns:S="{SOAP11_ENVELOPE}"><S:Body><S:Fault><faultcode>{faultcode}'
        f"</faultcode><faultstring>{escape(faultstring)}</faultstring><detail>"
        f'<ns2:ExchangeFault xmlns:ns2="{NAMESPACE}"><errorCode>{code}</errorCode>'
        f"<errorMsg>{escape(message)}</errorMsg></ns2:ExchangeFault></detail></S:Fault>"
        "</S:Body></S:Envelope>"
    ).encode()
    return Response(500, body, _XML)


def _code(operation: str, code: str, message: str) -> _Answer:
    return _Answer(Response(200, _return(operation, (("code", code), ("message", message))), _XML))


def blacklist_xml(
    biz_date: str, generated: str, entries: Sequence[Mapping[str, str]], *, utf8_bom: bool = False
) -> bytes:
    """``blacklist.xml`` as the ministry writes it: GBK with a declaration (or UTF-8 + BOM)."""
    lines = [] if utf8_bom else ['<?xml version="1.0" encoding="GBK"?>']
    lines.append(
        f'<BlackList bizDate="{biz_date}" generatedTime="{generated}" count="{len(entries)}">'
    )
    for entry in entries:
        lines.append("  <Entry>")
        names = [n for n in _ENTRY_ORDER if n in entry] + [
            n for n in entry if n not in _ENTRY_ORDER
        ]
        lines += [f"    <{n}>{escape(str(entry[n]))}</{n}>" for n in names]
        lines.append("  </Entry>")
    lines.append("</BlackList>")
    text = "\n".join(lines) + "\n"
    return b"\xef\xbb\xbf" + text.encode("utf-8") if utf8_bom else text.encode("gbk")


def blacklist_zip(content: bytes, biz_date: str, name: str = "blacklist.xml") -> bytes:
    """A ZIP with one member ``name`` (STORED, dated ``biz_date``)."""
    day = dt.datetime.strptime(biz_date, "%Y%m%d")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, content)
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("blacklist.xml", b"<" + b" " * (30 * 1024 * 1024) + b"/>")
    return buffer.getvalue()


def _mime(data: bytes) -> str:
    text = base64.b64encode(data).decode("ascii")
    return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


class CultureTourismSimulator(ServedSimulator):
    """The loopback ProvinceExchangeService (see the module docstring)."""

    def __init__(
        self,
        *,
        app_key: str = "FJWLT350000",
        app_secret: str = "Wl35@exch#2023test",
        port: int = 0,
        clock: Callable[[], dt.datetime] | None = None,
        processing_s: float = 0.0,
        query_interval_s: float = 0.0,
        mime_base64: bool = True,
    ) -> None:
        self.app_key = app_key
        self._secret = app_secret
        self.clock = clock or (lambda: dt.datetime.now(SHANGHAI))
        self.processing_s = processing_s
        self.query_interval_s = query_interval_s
        self.mime_base64 = mime_base64
        self.refuse_records: dict[str, str] = {}
        """recordId → errorCode: the records a batch refuses (``PARTIAL``)."""
        self.fail_packages: dict[str, str] = {}
        """bizDate → package errorCode (``E001``…): the batches of that date ``FAILED``."""
        self.batches: dict[str, Batch] = {}
        self.requests: list[SoapRequest] = []
        self.blacklists: dict[str, tuple[str, list[dict[str, str]], bool]] = {}
        self._nonces: dict[str, dt.datetime] = {}
        self._corrupt: list[Corruption] = []
        self._lock = threading.RLock()
        super().__init__(PATH, port)

    # --- life cycle and control ---------------------------------------------------------------

    def set_blacklist(
        self, biz_date: str, entries: Sequence[Mapping[str, str]], *, generated: str = "",
        utf8_bom: bool = False,
    ) -> None:  # fmt: skip
        """Make the blacklist of ``biz_date`` available (before that: ``3001``)."""
        day = dt.datetime.strptime(biz_date, "%Y%m%d") + dt.timedelta(days=1, hours=6, minutes=10)
        stamp = generated or day.strftime("%Y-%m-%d %H:%M:%S")
        with self._lock:
            self.blacklists[biz_date] = (stamp, [dict(e) for e in entries], utf8_bom)

    def corrupt_next_download(self, kind: Corruption) -> None:
        """Spoil the next successful ``downloadBlacklist`` answer in the way ``kind`` names."""
        with self._lock:
            self._corrupt.append(kind)

    # --- HTTP ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The ``HttpSimulator`` handler."""
        if request.path != PATH:
            return Response(404, b"<html><body>404</body></html>", {"Content-Type": "text/html"})
        if request.method == "GET":
            return Response(200, rewrite_wsdl_address(_WSDL.read_bytes(), self.endpoint), _XML)
        if not request.headers.get("content-type", "").startswith("text/xml"):
            return Response(415, b"<html><body>415</body></html>", {"Content-Type": "text/html"})
        try:
            call = self._read(request)
            with self._lock:
                self.requests.append(call)
                self._authenticate(call)
                return self._dispatch(call)
        except _Answer as answer:
            return answer.response

    def _read(self, request: Request) -> SoapRequest:
        if request.headers.get("soapaction") != '""':
            raise _Answer(_fault("1003", "SOAPAction", "SOAPAction 头缺失或不为空串"))
        try:
            root = parse_xml(request.body)
        except MessageRejected as exc:
            raise _Answer(_fault("1003", exc.rule, "请求无法解析")) from None
        body = root.find(f"{{{SOAP11_ENVELOPE}}}Body")
        wrapper = (
            next((e for e in body if isinstance(e.tag, str)), None) if body is not None else None
        )
        if wrapper is None or etree.QName(wrapper).namespace != NAMESPACE:
            raise _Answer(_fault("1003", "Body", "请求体不是服务的操作"))
        header = root.find(f"{{{SOAP11_ENVELOPE}}}Header/{{{NAMESPACE}}}AuthHeader")
        return SoapRequest(etree.QName(wrapper).localname, _plain(header), _plain(wrapper))

    def _authenticate(self, call: SoapRequest) -> None:
        auth = call.auth
        if auth.get("appKey") != self.app_key:
            raise _Answer(_fault("1005", "appKey invalid", "appKey 无效或已停用"))
        now = self.clock()
        try:
            sent = dt.datetime.strptime(auth.get("timestamp", ""), "%Y%m%d%H%M%S").replace(
                tzinfo=SHANGHAI
            )
        except ValueError:
            raise _Answer(_fault("1002", "timestamp format", "时间戳超出范围")) from None
        if abs((now - sent).total_seconds()) > 600:
            raise _Answer(_fault("1002", "timestamp out of range", "时间戳超出范围"))
        nonce = auth.get("nonce", "")
        for seen, at in list(self._nonces.items()):
            if (now - at).total_seconds() > 1800:
                del self._nonces[seen]
        if not NONCE_PATTERN.fullmatch(nonce) or nonce in self._nonces:
            raise _Answer(_fault("1004", "nonce reused", "nonce 重复"))
        expected = sign(self.app_key, auth.get("timestamp", ""), nonce, self._secret)
        if auth.get("signature") != expected:
            raise _Answer(_fault("1001", "signature mismatch", "签名验证失败"))
        self._nonces[nonce] = now

    def _dispatch(self, call: SoapRequest) -> Response:
        operations = {
            "uploadDailyPackage": self._upload,
            "queryBatchResult": self._query,
            "downloadBlacklist": self._download,
        }
        if call.operation not in operations:
            raise _Answer(_fault("1003", "operation", "未知操作"))
        return Response(200, operations[call.operation](call), _XML)

    # --- operations ---------------------------------------------------------------------------

    def _upload(self, call: SoapRequest) -> bytes:
        op = "uploadDailyPackage"
        params = call.params
        missing = [
            n for n in ("orgCode", "bizDate", "packageZipBase64", "sha256") if not params.get(n)
        ]
        if missing or not re.fullmatch(r"\d{8}", params["bizDate"]):
            raise _code(op, "1003", "参数缺失或格式错误")
        try:
            data = base64.b64decode(re.sub(r"\s+", "", params["packageZipBase64"]), validate=True)
        except ValueError:
            raise _code(op, "1003", "参数缺失或格式错误") from None
        if len(data) > MAX_PACKAGE_BYTES:
            raise _code(op, "2005", "数据包超过 20 MB")
        digest = hashlib.sha256(data).hexdigest()
        if digest != params["sha256"]:
            raise _code(op, "2001", "sha256 与数据包不符")
        try:
            records = read_package(data, max_bytes=4 * MAX_PACKAGE_BYTES)
        except MessageRejected:
            raise _code(op, "2002", "数据包无法解压") from None
        biz_date = params["bizDate"]
        for batch in self.batches.values():
            if batch.biz_date == biz_date and batch.sha256 == digest:
                fields = (
                    ("code", "2003"),
                    ("message", "该业务日期的数据包已接收"),
                    ("batchId", batch.batch_id),
                )
                return _return(op, fields)
        for batch in self.batches.values():
            self._settle(batch)
            if batch.biz_date == biz_date and batch.status in ("SUCCESS", "PARTIAL"):
                raise _code(op, "2004", "该业务日期已处理完成，不接受不同的数据包")
        seq = 1 + sum(1 for b in self.batches.values() if b.biz_date == biz_date)
        batch_id = f"WLSC-35-{biz_date}-{seq:04d}"
        self.batches[batch_id] = Batch(batch_id, biz_date, digest, records, self.clock())
        return _return(op, (("code", "0"), ("message", "接收成功"), ("batchId", batch_id)))

    def _settle(self, batch: Batch) -> None:
        if batch.status != "PROCESSING":
            return
        if (self.clock() - batch.received).total_seconds() < self.processing_s:
            return
        failure = self.fail_packages.get(batch.biz_date)
        if failure:
            batch.status = "FAILED"
            batch.errors = [("PACKAGE", "decisions.xml", failure, "decisions.xml 不符合XSD")]
            return
        batch.errors = [
            (kind, record_id, self.refuse_records[record_id], "记录校验失败")
            for kind, record_id in batch.records
            if record_id in self.refuse_records
        ]
        batch.status = "PARTIAL" if batch.errors else "SUCCESS"

    def _query(self, call: SoapRequest) -> bytes:
        op = "queryBatchResult"
        if not call.params.get("batchId"):
            raise _code(op, "1003", "参数缺失或格式错误")
        batch = self.batches.get(call.params["batchId"])
        if batch is None:
            raise _code(op, "2101", "批次号不存在")
        now = self.clock()
        if batch.last_query and (now - batch.last_query).total_seconds() < self.query_interval_s:
            raise _code(op, "4290", "调用过于频繁")
        batch.last_query = now
        self._settle(batch)
        failed = len(batch.errors) if batch.status == "PARTIAL" else 0
        total = 0 if batch.status == "FAILED" else len(batch.records)
        done = batch.status in ("SUCCESS", "PARTIAL")
        fields = (
            ("code", "0"), ("message", "成功"), ("batchId", batch.batch_id),
            ("status", batch.status), ("totalCount", str(total)),
            ("successCount", str(total - failed if done else 0)), ("failCount", str(failed)),
        )  # fmt: skip
        errors = "".join(
            f"<error><recordType>{k}</recordType><recordId>{escape(i)}</recordId>"
            f"<errorCode>{c}</errorCode><errorMsg>{escape(m)}</errorMsg></error>"
            for k, i, c, m in batch.errors
        )
        return _return(
            op, fields, f"<errors>{errors}</errors>" if batch.status != "PROCESSING" else ""
        )

    def _download(self, call: SoapRequest) -> bytes:
        op = "downloadBlacklist"
        biz_date = call.params.get("bizDate", "")
        if not re.fullmatch(r"\d{8}", biz_date):
            raise _code(op, "1003", "参数缺失或格式错误")
        if biz_date not in self.blacklists:
            raise _code(op, "3001", "名单数据尚未生成")
        generated, entries, utf8_bom = self.blacklists[biz_date]
        content = blacklist_xml(biz_date, generated, entries, utf8_bom=utf8_bom)
        data = blacklist_zip(content, biz_date)
        digest = hashlib.sha256(data).hexdigest()
        kind = self._corrupt.pop(0) if self._corrupt else None
        if kind == "sha256":
            digest = hashlib.sha256(b"other").hexdigest()
        elif kind == "dtd":
            data = blacklist_zip(
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><BlackList>&a;</BlackList>',
                biz_date,
            )
        elif kind == "traversal":
            data = blacklist_zip(content, biz_date, name="../../etc/blacklist.xml")
        elif kind == "zip_bomb":
            data = _bomb()
        elif kind == "not_zip":
            data = b"this is not a zip"
        if kind in ("dtd", "traversal", "zip_bomb", "not_zip"):
            digest = hashlib.sha256(data).hexdigest()
        encoded = _mime(data) if self.mime_base64 else base64.b64encode(data).decode("ascii")
        fields = (
            ("code", "0"), ("message", "成功"), ("bizDate", biz_date), ("generatedTime", generated),
            ("count", str(len(entries))), ("dataZipBase64", encoded), ("sha256", digest),
        )  # fmt: skip
        return _return(op, fields)


def _plain(element: etree._Element | None) -> dict[str, str]:
    """The unqualified children of ``element`` (qualified ones are ignored, as JAX-WS does)."""
    if element is None:
        return {}
    return {
        str(child.tag): child.text or ""
        for child in element
        if isinstance(child.tag, str) and not str(child.tag).startswith("{")
    }
