"""A loopback simulator of SupervisionDataService (Apache CXF, SOAP 1.1): tests and the demo.

A real SOAP server (``AsmxSimulator`` on ``HttpSimulator``: ``GET …?wsdl`` serves the WSDL with
``soap:address`` pointing at itself) that behaves as README §2 and §6 say:

- the SOAPAction must be ``"urn:uploadSupervisionData"`` (the shared simulator checks
  namespace + operation, so ``namespace`` is ``urn:``), the wrapper and ``AuthHeader`` in the
  service namespace with unqualified children, else Fault ``soap:Client`` (HTTP 500);
- ``AuthHeader``: unknown ``appId`` E001, timestamp more than 300 s off ``clock()`` E003, a
  ``sign`` that is not HMAC-SHA256 over the **GBK** hash E002, a nonce seen in the last 15
  minutes E008; then ``dataType`` (E004), ``xmlData`` (E005: not GBK-encodable, a first line
  other than the GBK declaration, unparseable, HEAD not matching the call), more than 200
  records (E006), ``RECORDCOUNT`` mismatch (E007);
- per record: required fields (R01), 监管事项编码 not in the catalogue or retired (R02), a USCC
  or resident id failing its check (R03), dates (R04), code values (R05), lengths (R06); the
  store is keyed on (appId, dataType, XWBH): a new record answers ``0`` 新增成功, a known one
  ``1`` 更新成功 (re-uploads are updates, Q8);
- more than ``rate_per_s`` calls in one second: HTTP 503 without a body (the load balancer).

Quirks and faults: ``node`` ``A`` (UTF-8), ``A_bom`` (UTF-8 with a BOM behind the old F5),
``B`` (the 2019 release: GBK declaration, ``text/xml;charset=GBK``); ``prefix`` (``ns2``/``ns1``);
``pad`` (``resultMsg``/``msg`` right-padded, Q7); ``reverse`` (records out of seq order);
``inject_soap``: ``maintenance`` (Fault ``soap:Server``), ``busy`` (E999), ``rate_limited``
(HTTP 503, no body), ``dtd`` (an answer with a DTD), ``duplicate_seq`` (a record listed twice),
``omit_last`` (the last record missing from the list); ``fail_record(xwbh, "R09")`` answers a
record code once; ``inject`` (HTTP: latency, 5xx, dropped connections, malformed bodies).

Example::

    with SupervisionSimulator(clock=lambda: dt.datetime(2024, 3, 5, 10, 15, tzinfo=SHANGHAI)) as s:
        config = IpSupervisionConfig(endpoint=s.endpoint, app_id=APP_ID, app_secret=APP_SECRET)
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from lxml import etree
from pydantic_core import PydanticCustomError

from adapters._simulators.http import Request, Response
from adapters._simulators.soap import (
    SOAP11_ENVELOPE,
    AsmxSimulator,
    Operation,
    SoapCall,
    soap_fault,
)
from adapters.ip_supervision._calls import NAMESPACE, OPERATION
from adapters.ip_supervision._signing import NONCE_PATTERN, verify
from adapters.ip_supervision._transforms import load_supervision_items
from runner.adapter_api import MessageRejected, parse_xml
from schemas.identifiers import check_resident_id, check_uscc
from schemas.timeutil import SHANGHAI

__all__ = [
    "APP_ID",
    "APP_SECRET",
    "PATH",
    "Node",
    "SoapFaultKind",
    "StoredRecord",
    "SupervisionSimulator",
    "catalogue",
    "upload_result",
]

APP_ID = "FJMZF0001"
APP_SECRET = "b6e1d4a9c2f74e0b8a3d5c7e9f1a2b4c"
"""The test-environment credentials of README §2.3."""
PATH = "/jgxw/services/SupervisionDataService"
MAX_SKEW_S = 300
NONCE_TTL_S = 900
DECLARATION = '<?xml version="1.0" encoding="GBK"?>\n'
_WSDL = Path(__file__).with_name("service.wsdl")
_XML = {"Content-Type": "text/xml;charset=UTF-8"}
_BATCH_MESSAGES = {
    "E001": "appId 不存在或已停用",
    "E002": "签名校验失败",
    "E003": "时间戳偏差超过300秒",
    "E004": "dataType 不支持",
    "E005": "xmlData 解析失败",
    "E006": "单次记录数超过200",
    "E007": "RECORDCOUNT 与实际记录数不符",
    "E008": "nonce 重复",
    "E999": "系统繁忙",
}
_RECORD_MESSAGES = {
    "0": "新增成功",
    "1": "更新成功",
    "R01": "必填项为空",
    "R02": "监管事项编码不存在或已停用",
    "R03": "统一社会信用代码或证件号码校验不通过",
    "R04": "日期格式错误",
    "R05": "代码值错误",
    "R06": "字段超长",
    "R09": "入库失败，请重试",
}
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "XZJC": (
        "XWBH", "JGSXBM", "JGSXMC", "SFM", "RWBH", "JCLX", "JCDXLX", "JCDXMC", "JCDXDM",
        "JCDXZJLX", "JCDXZJHM", "JCDXDZ", "JCDXQH", "JCJGMC", "JCJGDM", "JCJGQH", "JCRY",
        "JHJCRQ", "JCSJ", "JCNR", "JCJG", "JCJGMS",
    ),
    "XZCF": (
        "XWBH", "JGSXBM", "JGSXMC", "SFM", "CFJDSWH", "XDRLX", "XDRMC", "XDRDM", "XDRZJLX",
        "XDRZJHM", "FDDBR", "WFXWLX", "WFSS", "WFYJ", "CFYJ", "CFZL", "FKJE", "MSJE", "ZKDXZZ",
        "CFJDRQ", "CFJGMC", "CFJGDM", "CFJGQH",
    ),
}  # fmt: skip
_REQUIRED = {
    "XZJC": ("XWBH", "JGSXBM", "JGSXMC", "JCLX", "JCDXLX", "JCDXMC", "JCJGMC", "JCJGDM",
             "JCJGQH", "JCRY", "JCSJ", "JCNR", "JCJG"),
    "XZCF": ("XWBH", "JGSXBM", "JGSXMC", "SFM", "CFJDSWH", "XDRLX", "XDRMC", "WFXWLX", "WFSS",
             "WFYJ", "CFYJ", "CFZL", "CFJDRQ", "CFJGMC", "CFJGDM", "CFJGQH"),
}  # fmt: skip
_PARTY = {"XZJC": ("JCDXLX", "JCDXDM", "JCDXZJLX", "JCDXZJHM"),
          "XZCF": ("XDRLX", "XDRDM", "XDRZJLX", "XDRZJHM")}  # fmt: skip
_CODES = {
    "JCLX": {"01", "02", "03", "04", "05"},
    "JCDXLX": {"1", "2", "3", "4"},
    "XDRLX": {"1", "2", "3", "4"},
    "JCDXZJLX": {"111", "414", "516", "511", "990"},
    "XDRZJLX": {"111", "414", "516", "511", "990"},
    "JCJG": {"1", "2", "3", "4", "9"},
}
_CFZL = {f"{n:02d}" for n in range(1, 14)} | {"99"}
_DATES = {"JHJCRQ": "%Y%m%d", "JCSJ": "%Y%m%d%H%M%S", "CFJDRQ": "%Y%m%d"}
_LENGTHS = {"XWBH": 64, "JCDXMC": 200, "JCJGMS": 2000, "WFSS": 4000}

Node = Literal["A", "A_bom", "B"]
SoapFaultKind = Literal["maintenance", "busy", "rate_limited", "dtd", "duplicate_seq", "omit_last"]


def catalogue() -> set[str]:
    """The active 监管事项编码 of the catalogue: those of the spec's mapping table."""
    return {row["code"] for row in load_supervision_items().values()}


@dataclass(frozen=True)
class StoredRecord:
    """One record the service stored, keyed (appId, dataType, XWBH)."""

    app_id: str
    data_type: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class _Result:
    seq: int
    xwbh: str
    code: str


class _Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def upload_result(
    result_code: str,
    results: list[tuple[int, str, str]] | None = None,
    *,
    batch_id: str | None = None,
    prefix: str = "ns2",
    pad: bool = False,
) -> str:
    """The ``uploadSupervisionDataResponse`` envelope (README §6.1) as CXF writes it."""
    results = results or []
    outcomes = {"0": "成功", "1": "部分成功", "2": "全部失败"}
    message = _BATCH_MESSAGES.get(result_code) or outcomes.get(result_code, "未知错误")

    def padded(text: str) -> str:
        return text.ljust(20) if pad else text

    parts = [f"<resultCode>{result_code}</resultCode><resultMsg>{padded(message)}</resultMsg>"]
    if batch_id is not None:
        success = sum(1 for _s, _x, code in results if code in ("0", "1"))
        parts.append(
            f"<batchId>{batch_id}</batchId><successCount>{success}</successCount>"
            f"<failCount>{len(results) - success}</failCount><records>"
        )
        for seq, xwbh, code in results:
            text = padded(_RECORD_MESSAGES.get(code, ""))
            parts.append(
                f"<record><seq>{seq}</seq><xwbh>{escape(xwbh)}</xwbh><code>{code}</code>"
                f"<msg>{escape(text)}</msg></record>"
            )
        parts.append("</records>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP11_ENVELOPE}"><soap:Body>'
        f'<{prefix}:uploadSupervisionDataResponse xmlns:{prefix}="{NAMESPACE}"><return>'
        f"{''.join(parts)}</return></{prefix}:uploadSupervisionDataResponse>"
        "</soap:Body></soap:Envelope>"
    )


def _default_clock() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def _cxf_fault(faultcode: str, text: str) -> Response:
    return Response(500, soap_fault(text, faultcode), _XML)


class SupervisionSimulator(AsmxSimulator):
    """SupervisionDataService on 127.0.0.1; use as a context manager (see the module doc)."""

    def __init__(
        self,
        *,
        clock: Callable[[], dt.datetime] = _default_clock,
        app_id: str = APP_ID,
        app_secret: str = APP_SECRET,
        port: int = 0,
        node: Node = "A",
        prefix: str = "ns2",
        pad: bool = False,
        reverse: bool = False,
        rate_per_s: int = 5,
        retired: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(wsdl=_WSDL.read_bytes(), path=PATH, namespace="urn:", port=port)
        self.clock = clock
        self.app_id = app_id
        self.app_secret = app_secret
        self.node: Node = node
        self.prefix = prefix
        self.pad = pad
        self.reverse = reverse
        self.rate_per_s = rate_per_s
        self.catalogue = catalogue() - set(retired)
        self.store: dict[tuple[str, str, str], StoredRecord] = {}
        self.answers: list[str] = []
        self._nonces: dict[str, dt.datetime] = {}
        self._record_codes: dict[str, deque[str]] = {}
        self._shapes: deque[str] = deque()
        self._calls_at: deque[float] = deque()
        self._batch = 0
        self._data_lock = threading.Lock()

    # --- test controls ---------------------------------------------------------------------------

    def inject_soap(self, kind: SoapFaultKind, *, times: int = 1) -> None:
        """Queue a SOAP-level fault or answer quirk for the next ``times`` calls."""
        if kind in ("duplicate_seq", "omit_last"):
            with self._data_lock:
                self._shapes.extend([kind] * times)
            return
        answers: dict[str, Response] = {
            "maintenance": _cxf_fault("soap:Server", "系统维护中，请稍后再试"),
            "busy": self._response(upload_result("E999", prefix=self.prefix)),
            "rate_limited": Response(503, b"", {}),
            "dtd": Response(
                200,
                b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b"<r>&x;</r>",
                _XML,
            ),
        }
        self.inject_answer(answers[kind], operation=OPERATION, times=times)

    def fail_record(self, xwbh: str, code: str = "R09", times: int = 1) -> None:
        """Answer ``code`` for the next ``times`` uploads of record ``xwbh``."""
        with self._data_lock:
            self._record_codes.setdefault(xwbh, deque()).extend([code] * times)

    # --- the service -----------------------------------------------------------------------------

    def operations(self) -> Mapping[str, Operation]:
        """The one operation of the WSDL."""
        return {OPERATION: self._upload}

    def handle(self, request: Request) -> Response:
        """Rate limit (HTTP 503, no body) and JAX-WS envelope checks, then the shared dispatch."""
        if request.method == "POST" and request.path == self.path:
            if self._over_rate():
                return Response(503, b"", {})
            problem = _envelope_problem(request.body)
            if problem is not None:
                return _cxf_fault("soap:Client", problem)
        return super().handle(request)

    def _over_rate(self) -> bool:
        moment = time.monotonic()
        with self._data_lock:
            while self._calls_at and self._calls_at[0] <= moment - 1.0:
                self._calls_at.popleft()
            if len(self._calls_at) >= self.rate_per_s:
                return True
            self._calls_at.append(moment)
            return False

    def _upload(self, call: SoapCall) -> Response:
        try:
            data_type, xml_data = self._authenticated(call)
            results = self._records(data_type, xml_data)
        except _Refused as refused:
            return self._response(upload_result(refused.code, prefix=self.prefix))
        return self._response(self._result_document(results))

    def _authenticated(self, call: SoapCall) -> tuple[str, str]:
        header = call.headers.get("AuthHeader") or {}
        app_id = call.params.get("appId") or ""
        data_type = call.params.get("dataType") or ""
        xml_data = call.params.get("xmlData") or ""
        if app_id != self.app_id:
            raise _Refused("E001")
        stamp, nonce = header.get("timestamp", ""), header.get("nonce", "")
        try:
            sent_at = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
        except ValueError:
            raise _Refused("E003") from None
        now = self.clock()
        if abs((now - sent_at).total_seconds()) > MAX_SKEW_S:
            raise _Refused("E003")
        try:
            gbk = xml_data.encode("gbk")
        except UnicodeEncodeError:
            gbk = None
        signature = header.get("sign", "")
        signed = gbk is not None and verify(
            self.app_secret, app_id, data_type, stamp, nonce, gbk, signature
        )
        if not signed or not NONCE_PATTERN.fullmatch(nonce):
            raise _Refused("E002" if gbk is not None else "E005")
        with self._data_lock:
            self._nonces = {
                n: at for n, at in self._nonces.items() if (now - at).total_seconds() < NONCE_TTL_S
            }
            if nonce in self._nonces:
                raise _Refused("E008")
            self._nonces[nonce] = now
        if data_type not in _FIELDS:
            raise _Refused("E004")
        return data_type, xml_data

    def _records(self, data_type: str, xml_data: str) -> list[_Result]:
        if not xml_data.startswith(DECLARATION):
            raise _Refused("E005")
        try:
            root = parse_xml(xml_data.encode("gbk"), "gbk")
        except (MessageRejected, UnicodeEncodeError):
            raise _Refused("E005") from None
        head = root.find("HEAD")
        if root.tag != "JGXW" or head is None or head.findtext("APPID") != self.app_id:
            raise _Refused("E005")
        if head.findtext("DATATYPE") != data_type:
            raise _Refused("E005")
        records = root.findall("BODY/RECORD")
        if len(records) > 200:
            raise _Refused("E006")
        if head.findtext("RECORDCOUNT") != str(len(records)):
            raise _Refused("E007")
        return [self._record(data_type, record, n) for n, record in enumerate(records, 1)]

    def _record(self, data_type: str, record: etree._Element, position: int) -> _Result:
        fields = {child.tag: (child.text or "") for child in record if isinstance(child.tag, str)}
        seq = int(record.get("SEQ") or position)
        xwbh = fields.get("XWBH", "")
        code = _record_code(data_type, fields, self.catalogue)
        with self._data_lock:
            injected = self._record_codes.get(xwbh)
            if injected:
                code = injected.popleft()
            if code == "0":
                key = (self.app_id, data_type, xwbh)
                code = "1" if key in self.store else "0"
                self.store[key] = StoredRecord(self.app_id, data_type, fields)
        return _Result(seq, xwbh, code)

    def _result_document(self, results: list[_Result]) -> str:
        with self._data_lock:
            self._batch += 1
            batch_id = f"JGXW{self.clock().astimezone(SHANGHAI):%Y%m%d%H%M%S}{self._batch:06d}"
            shape = self._shapes.popleft() if self._shapes else None
        rows = [(r.seq, r.xwbh, r.code) for r in results]
        if shape == "duplicate_seq" and rows:
            rows.append(rows[0])
        if shape == "omit_last" and rows:
            rows.pop()
        if self.reverse:
            rows.reverse()
        stored = sum(1 for r in results if r.code in ("0", "1"))
        code = "0" if stored == len(results) else ("2" if stored == 0 else "1")
        return upload_result(code, rows, batch_id=batch_id, prefix=self.prefix, pad=self.pad)

    def _response(self, document: str) -> Response:
        with self._data_lock:
            self.answers.append(document)
        if self.node == "B":
            gbk = document.replace('encoding="UTF-8"', 'encoding="GBK"', 1).encode("gbk")
            return Response(200, gbk, {"Content-Type": "text/xml;charset=GBK"})
        body = document.encode("utf-8")
        if self.node == "A_bom":
            body = b"\xef\xbb\xbf" + body
        return Response(200, body, _XML)


def _envelope_problem(body: bytes) -> str | None:
    """Why CXF would refuse the envelope (wrapper or header not qualified, children qualified)."""
    try:
        root = parse_xml(body)
    except MessageRejected:
        return None  # the shared dispatch answers unreadable requests
    for name in ("AuthHeader", OPERATION):
        element = root.find(f".//{{{NAMESPACE}}}{name}")
        if element is None:
            return f"Unexpected wrapper element: {{{NAMESPACE}}}{name} expected"
        qualified = [c for c in element if isinstance(c.tag, str) and c.tag.startswith("{")]
        if qualified:
            return f"Unexpected element {qualified[0].tag}: children are unqualified"
    return None


def _missing(data_type: str, fields: Mapping[str, str]) -> bool:
    if any(name not in fields for name in _FIELDS[data_type]):
        return True
    if any(not fields[name] for name in _REQUIRED[data_type]):
        return True
    kind, uscc, id_type, id_number = (fields[n] for n in _PARTY[data_type])
    return not (id_type and id_number) if kind == "4" else not uscc


def _identifiers_fail(data_type: str, fields: Mapping[str, str]) -> bool:
    _kind, uscc, id_type, id_number = (fields[n] for n in _PARTY[data_type])
    codes = [uscc, fields.get("JCJGDM", ""), fields.get("CFJGDM", "")]
    try:
        for code in filter(None, codes):
            check_uscc(code)
        if id_type == "111":
            check_resident_id(id_number)
    except (PydanticCustomError, ValueError):
        return True
    return False


def _dates_fail(fields: Mapping[str, str]) -> bool:
    for name, fmt in _DATES.items():
        if fields.get(name):
            try:
                dt.datetime.strptime(fields[name], fmt)
            except ValueError:
                return True
    return False


def _codes_fail(fields: Mapping[str, str]) -> bool:
    if any(fields.get(n) and fields[n] not in codes for n, codes in _CODES.items()):
        return True
    return "CFZL" in fields and not set(fields["CFZL"].split(",")) <= _CFZL


def _record_code(data_type: str, fields: Mapping[str, str], active: set[str]) -> str:
    """The record code of README §6.2 for ``fields`` (``0`` when the record is storable)."""
    checks: list[tuple[str, Callable[[], bool]]] = [
        ("R01", lambda: _missing(data_type, fields)),
        ("R02", lambda: fields["JGSXBM"] not in active),
        ("R03", lambda: _identifiers_fail(data_type, fields)),
        ("R04", lambda: _dates_fail(fields)),
        ("R05", lambda: _codes_fail(fields)),
        ("R06", lambda: any(len(fields.get(n, "")) > m for n, m in _LENGTHS.items())),
    ]
    return next((code for code, fails in checks if fails()), "0")
