"""A loopback simulator of InspectionExchangeService (drug_admin), a real SOAP 1.2 server.

It behaves as the README says (on ``HttpSimulator``, so HTTP faults come with it):

- ``GET <path>?wsdl`` serves the spec's WSDL with the **internal** address of the live service
  (``http://192.168.20.15:8080/…``, quirk 8): a client must override it with its endpoint;
- ``POST <path>`` takes ``application/soap+xml`` only (else HTTP 415), reads the envelope with
  the hardened parser and checks the WS-Security UsernameToken of every request (§2.3): user
  and PasswordDigest (``E1001`` FailedAuthentication), a missing or malformed header and a
  nonce seen in the last 600 s (``E1002`` InvalidSecurity), ``Created`` not in ``…Z`` form or
  outside 300 s past / 60 s future of ``clock()`` (``E1003`` MessageExpired);
- more than ``max_concurrent`` requests in flight, or two requests of one operation within
  ``min_interval_s``: Fault ``E5003`` ServiceBusy with ``RetryAfterSeconds``;
- ``QueryInspections``/``QueryPenalties``: records with ``UpdateTime >= SinceTime`` (Beijing
  time, a zone ignored), ordered by ``UpdateTime`` then ``RecordId``, paged without snapshot,
  ``HasMore`` (``true``/``false``, or ``1``/``0`` with ``numeric_has_more``); ``PageSize`` > 200
  → ``E2002``; a bad parameter → ``E2001``; ``SinceTime`` over 31 days back → ``ResultCode``
  3001; penalties as an escaped ``ResultXml`` with the false GBK declaration (CDATA with
  ``cdata=True``, as 2.3 nodes write it);
- ``AssignJointTask``: idempotent on ``TaskNo`` (same content → ``1`` with the first
  ``ReceiptNo``; other content → ``2005``), ``2001`` for a target outside ``known_subjects``
  (or with a bad USCC), ``2003`` for a lead org outside ``known_orgs`` (when given).

Faults to inject: ``inject_soap(kind)`` — ``busy`` (E5003), ``internal`` (E5000), ``expired``
(E1003), ``dtd`` (a ResultXml with a DTD), ``malformed_result`` (a ResultXml cut short),
``duplicate`` (the next page repeats its first record, as 3.0 nodes do); ``inject(Fault(...))``
— latency (``delay``: beyond the read timeout it is a timeout), HTTP 5xx (503 maintenance),
dropped connections, malformed bodies.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

from lxml import etree

from adapters._simulators.http import Request, Response, ServedSimulator
from adapters._simulators.soap import rewrite_wsdl_address
from adapters.drug_admin._calls import NAMESPACE
from adapters.drug_admin._dataset import Record, sample_inspections, sample_penalties
from adapters.drug_admin._wsse import (
    PASSWORD_DIGEST,
    SOAP12_ENVELOPE,
    WSSE,
    WSU,
    password_digest,
)
from runner.adapter_api import MessageRejected, parse_xml
from schemas.identifiers import check_uscc
from schemas.timeutil import SHANGHAI

__all__ = [
    "INTERNAL_ADDRESS",
    "PASSWORD",
    "PATH",
    "USER_NAME",
    "DrugAdminSimulator",
    "ReceivedTask",
    "SoapFaultKind",
    "fault_envelope",
    "inspections_envelope",
    "penalties_envelope",
    "task_envelope",
]

PATH = "/jcjc/services/InspectionExchange"
INTERNAL_ADDRESS = "http://192.168.20.15:8080/jcjc/services/InspectionExchange"
USER_NAME = "fjzf_bus"
PASSWORD = "Ypjg#Test2024"
"""The joint-test account of README §2.3."""
MAX_PAST = dt.timedelta(seconds=300)
MAX_FUTURE = dt.timedelta(seconds=60)
NONCE_MEMORY = dt.timedelta(seconds=600)
MAX_RANGE = dt.timedelta(days=31)
_WSDL = Path(__file__).with_name("service.wsdl")
_CREATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SOAP_TYPE = {"Content-Type": "application/soap+xml; charset=utf-8"}
_LISTS = {
    "Inspectors": "Inspector",
    "Items": "Item",
    "IllegalBasis": "Basis",
    "PenaltyKinds": "Kind",
}
_FAULTS: Mapping[str, tuple[str, str, str, str]] = {
    "E1001": ("Sender", "wsse:FailedAuthentication", "用户名或密码摘要校验失败",
              "PasswordDigest不匹配"),
    "E1002": ("Sender", "wsse:InvalidSecurity", "安全头缺失或格式错误",
              "Security头无效或Nonce重复"),
    "E1003": ("Sender", "wsse:MessageExpired", "消息已过期", "Created超出允许范围或格式错误"),
    "E2001": ("Sender", "ns2:InvalidParameter", "参数错误", "请求参数不合法"),
    "E2002": ("Sender", "ns2:InvalidParameter", "参数错误", "PageSize不能超过200"),
    "E5000": ("Receiver", "ns2:InternalError", "系统内部错误", "未知错误"),
    "E5003": ("Receiver", "ns2:ServiceBusy", "系统繁忙，请稍后重试", "请求过于频繁"),
}  # fmt: skip
_TASK_MESSAGES = {
    "0": "任务接收成功",
    "1": "任务已存在",
    "2001": "检查对象不在药品监管主体库",
    "2003": "牵头单位未登记",
    "2005": "任务已存在且内容不同",
}

SoapFaultKind = Literal["busy", "internal", "expired", "dtd", "malformed_result", "duplicate"]


# --- answers ------------------------------------------------------------------------------------


def fault_envelope(error_code: str, retry_after_s: int | None = None) -> bytes:
    """A SOAP 1.2 Fault as the service writes it (sent with HTTP 500)."""
    code, subcode, reason, message = _FAULTS[error_code]
    prefix, _, _ = subcode.partition(":")
    uri = WSSE if prefix == "wsse" else NAMESPACE
    retry = (
        f"<ns2:RetryAfterSeconds>{retry_after_s}</ns2:RetryAfterSeconds>"
        if retry_after_s is not None
        else ""
    )
    return (
        f'<soap:Envelope xmlns:soap="{SOAP12_ENVELOPE}"><soap:Body><soap:Fault><soap:Code>'
        f"<soap:Value>soap:{code}</soap:Value><soap:Subcode>"
        f'<soap:Value xmlns:{prefix}="{uri}">{subcode}</soap:Value></soap:Subcode></soap:Code>'
        f'<soap:Reason><soap:Text xml:lang="zh-CN">{reason}</soap:Text></soap:Reason>'
        f'<soap:Detail><ns2:ServiceFaultDetail xmlns:ns2="{NAMESPACE}">'
        f"<ns2:ErrorCode>{error_code}</ns2:ErrorCode><ns2:ErrorMsg>{message}</ns2:ErrorMsg>"
        f"{retry}</ns2:ServiceFaultDetail></soap:Detail></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def _response(operation: str, children: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP12_ENVELOPE}"><soap:Body>'
        f'<ns2:{operation}Response xmlns:ns2="{NAMESPACE}">{children}'
        f"</ns2:{operation}Response></soap:Body></soap:Envelope>"
    ).encode()


def _typed(name: str, value: Any) -> str:
    """One element of a typed record (prefix ``ns2``): text, nested, list, or xsi:nil."""
    if value is None:
        xsi = "http://www.w3.org/2001/XMLSchema-instance"
        return f'<ns2:{name} xmlns:xsi="{xsi}" xsi:nil="true"/>'
    if isinstance(value, dict):
        inner = "".join(_typed(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(_typed(_LISTS[name], item) for item in value)
    else:
        inner = escape(str(value))
    return f"<ns2:{name}>{inner}</ns2:{name}>" if inner else f"<ns2:{name}/>"


def _head(total: int, page_no: int, page_size: int, has_more: bool, numeric: bool) -> str:
    more = ("1" if has_more else "0") if numeric else ("true" if has_more else "false")
    return (
        "<ns2:ResultCode>0</ns2:ResultCode><ns2:ResultMsg>成功</ns2:ResultMsg>"
        f"<ns2:TotalCount>{total}</ns2:TotalCount><ns2:PageNo>{page_no}</ns2:PageNo>"
        f"<ns2:PageSize>{page_size}</ns2:PageSize><ns2:HasMore>{more}</ns2:HasMore>"
    )


def inspections_envelope(
    records: Sequence[Record],
    total: int,
    page_no: int,
    page_size: int,
    has_more: bool,
    *,
    numeric_has_more: bool = False,
) -> bytes:
    """A ``QueryInspectionsResponse`` page, written as the samples are."""
    rows = "".join(_typed("Inspection", record) for record in records)
    head = _head(total, page_no, page_size, has_more, numeric_has_more)
    return _response("QueryInspections", f"{head}<ns2:Records>{rows}</ns2:Records>")


def _inner(name: str, value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if value is None:
        return [f"{pad}<{name}>null</{name}>"]
    if isinstance(value, list):
        lines = [f"{pad}<{name}>"]
        for item in value:
            lines += _inner(_LISTS[name], item, depth + 1)
        return [*lines, f"{pad}</{name}>"]
    if isinstance(value, dict):
        lines = [f"{pad}<{name}>"]
        for key, item in value.items():
            lines += _inner(key, item, depth + 1)
        return [*lines, f"{pad}</{name}>"]
    text = str(value)
    return [f"{pad}<{name}>{escape(text)}</{name}>" if text else f"{pad}<{name}/>"]


def result_xml(records: Sequence[Record], generated: dt.datetime) -> str:
    """The ``PenaltyList`` document of ``ResultXml`` with its false GBK declaration."""
    lines = [
        '<?xml version="1.0" encoding="GBK"?>',
        f'<PenaltyList count="{len(records)}" generated="{generated:%Y-%m-%d %H:%M:%S}">',
    ]
    for record in records:
        lines += _inner("Penalty", record, 1)
    return "\n".join([*lines, "</PenaltyList>", ""])


def penalties_envelope(
    document: str,
    total: int,
    page_no: int,
    page_size: int,
    has_more: bool,
    *,
    cdata: bool = False,
    numeric_has_more: bool = False,
) -> bytes:
    """A ``QueryPenaltiesResponse`` page carrying ``document`` escaped (or in CDATA)."""
    text = f"<![CDATA[{document}]]>" if cdata else escape(document)
    head = _head(total, page_no, page_size, has_more, numeric_has_more)
    return _response("QueryPenalties", f"{head}<ns2:ResultXml>{text}</ns2:ResultXml>")


def range_error_envelope(operation: str) -> bytes:
    """The 3001 answer of a query whose ``SinceTime`` is more than 31 days back."""
    head = (
        "<ns2:ResultCode>3001</ns2:ResultCode><ns2:ResultMsg>查询时间范围超过31天</ns2:ResultMsg>"
        "<ns2:TotalCount>0</ns2:TotalCount><ns2:PageNo>1</ns2:PageNo><ns2:PageSize>0</ns2:PageSize>"
        "<ns2:HasMore>false</ns2:HasMore>"
    )
    tail = (
        "<ns2:Records/>" if operation == "QueryInspections" else "<ns2:ResultXml></ns2:ResultXml>"
    )
    return _response(operation, head + tail)


def task_envelope(code: str, receipt_no: str | None) -> bytes:
    """An ``AssignJointTaskResponse``."""
    receipt = f"<ns2:ReceiptNo>{receipt_no}</ns2:ReceiptNo>" if receipt_no else ""
    return _response(
        "AssignJointTask",
        f"<ns2:ResultCode>{code}</ns2:ResultCode><ns2:ResultMsg>{_TASK_MESSAGES[code]}"
        f"</ns2:ResultMsg>{receipt}",
    )


# --- the service --------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, error_code: str, retry_after_s: int | None = None) -> None:
        super().__init__(error_code)
        self.error_code = error_code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ReceivedTask:
    """A joint task the service accepted: its ``TaskNo``, receipt and fields (text by path)."""

    task_no: str
    receipt_no: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class SoapRequest:
    """A request as the service read it: operation, Security facts and parameters."""

    operation: str
    username: str
    digest: str
    nonce: str
    created: str
    params: Mapping[str, str]


def _default_clock() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def _local(tag: object) -> str:
    return etree.QName(str(tag)).localname


def _flatten(element: etree._Element, prefix: str = "") -> dict[str, str]:
    fields: dict[str, str] = {}
    counts: dict[str, int] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = _local(child.tag)
        counts[name] = counts.get(name, 0) + 1
        path = f"{prefix}{name}" + (f"[{counts[name]}]" if name in _LISTS.values() else "")
        if len(child):
            fields |= _flatten(child, path + "/")
        else:
            fields[path] = child.text or ""
    return fields


class DrugAdminSimulator(ServedSimulator):
    """The drug_admin service on 127.0.0.1; use as a context manager.

    ``clock`` gives the server's time (token window, 31-day range, receipt dates);
    ``inspections``/``penalties`` default to the spec samples' records.
    """

    def __init__(
        self,
        *,
        inspections: list[Record] | None = None,
        penalties: list[Record] | None = None,
        clock: Callable[[], dt.datetime] = _default_clock,
        user_name: str = USER_NAME,
        password: str = PASSWORD,
        port: int = 0,
        min_interval_s: float = 5.0,
        max_concurrent: int = 2,
        receipt_start: int = 1,
        known_subjects: set[str] | None = None,
        known_orgs: set[str] | None = None,
        cdata: bool = False,
        numeric_has_more: bool = False,
    ) -> None:
        self.inspections = inspections if inspections is not None else sample_inspections()
        self.penalties = penalties if penalties is not None else sample_penalties()
        self.clock = clock
        self.user_name = user_name
        self.password = password
        self.min_interval_s = min_interval_s
        self.max_concurrent = max_concurrent
        self.known_subjects = known_subjects
        self.known_orgs = known_orgs
        self.cdata = cdata
        self.numeric_has_more = numeric_has_more
        self.calls: list[SoapRequest] = []
        self.tasks: list[ReceivedTask] = []
        self._receipt = receipt_start
        self._task_content: dict[str, tuple[dict[str, str], str]] = {}
        self._nonces: dict[str, dt.datetime] = {}
        self._last_call: dict[str, float] = {}
        self._in_flight = 0
        self._injected: deque[tuple[str | None, SoapFaultKind]] = deque()
        self._lock = threading.Lock()
        super().__init__(PATH, port)

    # --- lifecycle and controls ----------------------------------------------------------------

    def inject_soap(
        self, kind: SoapFaultKind, *, operation: str | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` (any) with the fault ``kind``."""
        with self._lock:
            self._injected.extend([(operation, kind)] * times)

    def add(self, operation: str, record: Record) -> None:
        """Add (or, by ``RecordId``, replace) an inspection or penalty record."""
        records = self.inspections if operation == "QueryInspections" else self.penalties
        with self._lock:
            records[:] = [r for r in records if r["RecordId"] != record["RecordId"]]
            records.append(record)

    def _take(self, operation: str) -> SoapFaultKind | None:
        with self._lock:
            for item in self._injected:
                if item[0] in (None, operation):
                    self._injected.remove(item)
                    return item[1]
        return None

    # --- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The ``HttpSimulator`` handler."""
        if request.path != PATH:
            return Response(404, b"<html><body>404 Not Found</body></html>", _html())
        if request.method == "GET":
            return Response(200, rewrite_wsdl_address(_WSDL.read_bytes(), INTERNAL_ADDRESS), _xml())
        if not request.headers.get("content-type", "").startswith("application/soap+xml"):
            return Response(415, b"<html><body>415 Unsupported Media Type</body></html>", _html())
        with self._lock:
            self._in_flight += 1
            busy = self._in_flight > self.max_concurrent
        try:
            if busy:
                raise _Refused("E5003", 5)
            return Response(200, self._serve(request), _SOAP_TYPE)
        except _Refused as refused:
            return Response(
                500, fault_envelope(refused.error_code, refused.retry_after_s), _SOAP_TYPE
            )
        finally:
            with self._lock:
                self._in_flight -= 1

    def _serve(self, request: Request) -> bytes:
        call = self._read(request.body)
        self._authenticate(call)
        self._pace(call.operation)
        fault = self._take(call.operation)
        if fault in ("busy", "internal", "expired"):
            raise _Refused(
                {"busy": "E5003", "internal": "E5000", "expired": "E1003"}[fault],
                60 if fault == "busy" else None,
            )
        if call.operation == "AssignJointTask":
            return self._assign(call)
        return self._query(call, fault)

    def _read(self, body: bytes) -> SoapRequest:
        try:
            root = parse_xml(body)
        except MessageRejected:
            raise _Refused("E2001") from None
        env = f"{{{SOAP12_ENVELOPE}}}"
        operation = root.find(f"{env}Body/*")
        if root.tag != f"{env}Envelope" or operation is None:
            raise _Refused("E2001")
        token = root.find(f"{env}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            raise _Refused("E1002")
        password = token.find(f"{{{WSSE}}}Password")
        if password is None or password.get("Type") != PASSWORD_DIGEST:
            raise _Refused("E1001")
        call = SoapRequest(
            operation=_local(operation.tag),
            username=(token.findtext(f"{{{WSSE}}}Username") or "").strip(),
            digest=(password.text or "").strip(),
            nonce=(token.findtext(f"{{{WSSE}}}Nonce") or "").strip(),
            created=(token.findtext(f"{{{WSU}}}Created") or "").strip(),
            params=_flatten(operation),
        )
        with self._lock:
            self.calls.append(call)
        return call

    def _authenticate(self, call: SoapRequest) -> None:
        if not _CREATED.fullmatch(call.created):
            raise _Refused("E1003")
        created = dt.datetime.strptime(call.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        now = self.clock().astimezone(dt.UTC)
        if not now - MAX_PAST <= created <= now + MAX_FUTURE:
            raise _Refused("E1003")
        try:
            nonce = base64.b64decode(call.nonce, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("E1002") from None
        expected = password_digest(nonce, call.created, self.password)
        if call.username != self.user_name or call.digest != expected or not nonce:
            raise _Refused("E1001")
        with self._lock:
            self._nonces = {n: t for n, t in self._nonces.items() if now - t < NONCE_MEMORY}
            if call.nonce in self._nonces:
                raise _Refused("E1002")
            self._nonces[call.nonce] = now

    def _pace(self, operation: str) -> None:
        with self._lock:
            last = self._last_call.get(operation)
            moment = time.monotonic()
            if last is not None and moment - last < self.min_interval_s:
                wait = math.ceil(self.min_interval_s - (moment - last))
                raise _Refused("E5003", max(wait, 1))
            self._last_call[operation] = moment

    # --- operations ----------------------------------------------------------------------------

    def _query(self, call: SoapRequest, fault: SoapFaultKind | None) -> bytes:
        since = _since(call.params.get("SinceTime", ""))
        page_no = _int(call.params.get("PageNo"))
        page_size = _int(call.params.get("PageSize"))
        if page_no < 1 or page_size < 1:
            raise _Refused("E2001")
        if page_size > 200:
            raise _Refused("E2002")
        now = self.clock().astimezone(SHANGHAI).replace(tzinfo=None)
        if now - since > MAX_RANGE:
            return range_error_envelope(call.operation)
        inspections = call.operation == "QueryInspections"
        with self._lock:
            records = self.inspections if inspections else self.penalties
            selected = sorted(
                (r for r in records if _update_time(r) >= since),
                key=lambda r: (_update_time(r), str(r["RecordId"])),
            )
        start = (page_no - 1) * page_size
        page = [dict(r) for r in selected[start : start + page_size]]
        if fault == "duplicate" and page:
            page.insert(1, page[0])
        has_more = start + page_size < len(selected)
        if inspections:
            return inspections_envelope(
                page, len(selected), page_no, page_size, has_more,
                numeric_has_more=self.numeric_has_more,
            )  # fmt: skip
        document = result_xml(page, now)
        if fault == "dtd":
            document = (
                '<?xml version="1.0" encoding="GBK"?>\n<!DOCTYPE PenaltyList [<!ENTITY x '
                '"boom">]>\n<PenaltyList count="1"><Penalty><RecordId>&x;</RecordId></Penalty>'
                "</PenaltyList>\n"
            )
        elif fault == "malformed_result":
            document = document[: len(document) // 2]
        return penalties_envelope(
            document, len(selected), page_no, page_size, has_more,
            cdata=self.cdata, numeric_has_more=self.numeric_has_more,
        )  # fmt: skip

    def _assign(self, call: SoapRequest) -> bytes:
        fields = dict(call.params)
        task_no = fields.get("Task/TaskNo", "").strip()
        required = ("Task/TaskNo", "Task/TaskMode", "Task/PlanDate", "Task/Enterprise/EntName")
        if any(not fields.get(name, "").strip() for name in required):
            raise _Refused("E2001")
        with self._lock:
            known = self._task_content.get(task_no)
            if known is not None:
                content, receipt = known
                if content == fields:
                    return task_envelope("1", receipt)
                return task_envelope("2005", None)
        subject = fields.get("Task/Enterprise/EntCreditCode", "")
        if not _valid_uscc(subject) or (
            self.known_subjects is not None and subject not in self.known_subjects
        ):
            return task_envelope("2001", None)
        org = fields.get("Task/LeadOrg/OrgCreditCode", "")
        if self.known_orgs is not None and org not in self.known_orgs:
            return task_envelope("2003", None)
        with self._lock:
            day = self.clock().astimezone(SHANGHAI)
            receipt = f"YPRW-{day:%Y%m%d}-{self._receipt:04d}"
            self._receipt += 1
            self._task_content[task_no] = (fields, receipt)
            self.tasks.append(ReceivedTask(task_no, receipt, fields))
        return task_envelope("0", receipt)


def _valid_uscc(value: str) -> bool:
    try:
        check_uscc(value)
    except ValueError:
        return False
    return True


def _since(text: str) -> dt.datetime:
    """``SinceTime`` read as the service does: the digits as Beijing time, a zone ignored."""
    match = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?", text.strip()
    )
    if match is None:
        raise _Refused("E2001")
    return dt.datetime.fromisoformat(match.group(1))


def _int(text: str | None) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        raise _Refused("E2001") from None


def _update_time(record: Record) -> dt.datetime:
    text = str(record["UpdateTime"]).strip().replace(" ", "T")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(SHANGHAI).replace(tzinfo=None)
    return parsed


def _xml() -> dict[str, str]:
    return {"Content-Type": "text/xml; charset=utf-8"}


def _html() -> dict[str, str]:
    return {"Content-Type": "text/html; charset=utf-8"}
