"""A loopback simulator of the "两法衔接" exchange service (LfxjExchangeService v3.0).

A real SOAP 1.1 server (``AsmxSimulator`` on ``HttpSimulator``) that behaves as the README says:

- ``GET …/exchange?wsdl`` serves the adapter's copy of the WSDL, pointed at itself;
- every call's ``AuthInfo`` is checked: user and upper-case MD5 ``signature`` (result code
  1001 认证失败), ``timestamp`` within ±10 minutes of ``clock()`` (1002);
- ``submitCaseInfo`` checks what README 3.3-3.5 require (2001 必填项缺失, 2002 代码值错误,
  2004 数据格式错误, 1003 for an orgCode outside Fujian) and is an upsert: keyed on ``sfm`` for
  01 and ``yslsh`` for 02/03; a resend answers ``1`` 重复提交，已按更新处理 with the same
  ``ajbh``; in ``transferInfo`` an omitted element keeps the stored value, an empty one clears it;
  an 03 for an unknown ``yslsh`` is stored as a skeleton;
- ``fetchSupervisionNotices`` pages the notices of ``orgCode`` with ``seq > sinceSeq``
  ascending, at most ``page_size`` (50), ``hasMore``, ``maxSeq`` (= ``sinceSeq`` when empty);
- answers are GBK (``<?xml version="1.0" encoding="GBK"?>``, prefix ``ns1``, ``jdnr`` in CDATA);
- above ``rate_limit`` calls per second: SOAP Fault ``soap:Server`` "访问频率超限".

Faults: ``inject`` (HTTP: delay → client timeout, 5xx with ``Retry-After``, dropped connection,
malformed body) and ``inject_soap``: ``busy`` (9001), ``maintenance`` (9002), ``server_fault``,
``client_fault``, ``dtd`` (an answer with a DTD), ``malformed`` (GBK bytes cut short),
``replay`` (the next page also repeats notices at or below ``sinceSeq``, as after a restore).

Example::

    with TwoLawsSimulator(clock=lambda: at(2024, 3, 15, 8)) as sim:
        sim.add_notice("11350200MB1C034749", notice(seq=1041))
        config = TwoLawsConfig(endpoint=sim.endpoint, password=PASSWORD, org_codes=[...])
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from lxml import etree

from adapters._simulators.http import Request, Response
from adapters._simulators.soap import AsmxSimulator, Operation, SoapCall
from adapters.two_laws._wire import NAMESPACE, sign
from runner.adapter_api import MessageRejected, parse_xml
from schemas.identifiers import check_uscc
from schemas.timeutil import SHANGHAI

__all__ = [
    "MESSAGES",
    "PASSWORD",
    "PATH",
    "USER_NAME",
    "Notice",
    "SoapFaultKind",
    "StoredSubmission",
    "TwoLawsSimulator",
    "fault_document",
    "notice_page_document",
    "submit_result_document",
]

PATH = "/lfxj/services/exchange"
USER_NAME = "MZF_ESB"
PASSWORD = "Lfxj@2024#Esb"
"""The test account of README §2.2."""
MAX_SKEW = dt.timedelta(minutes=10)
MESSAGES = {
    "0": "成功",
    "1": "重复提交，已按更新处理",
    "1001": "认证失败",
    "1002": "时间戳超出允许范围",
    "1003": "无权操作该机构",
    "2001": "必填项缺失",
    "2002": "代码值错误",
    "2004": "数据格式错误",
    "9001": "系统繁忙，请稍后重试",
    "9002": "数据库维护中",
}
_WSDL = Path(__file__).with_name("service.wsdl")
_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
_GBK = {"Content-Type": "text/xml; charset=GBK"}
_HEAD = f'<?xml version="1.0" encoding="GBK"?><soap:Envelope xmlns:soap="{_SOAP}"><soap:Body>'
_TAIL = "</soap:Body></soap:Envelope>"
_TIME = "%Y-%m-%d %H:%M:%S"
_AMOUNT = re.compile(r"\d+\.\d{2}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_CODES = {
    "lydm": {"SCJG", "STHJ", "WSJK", "YJGL", "YPJG", "XFJY", "WHLY", "NYNC", "HYYY", "CSGL",
             "JTYS", "QTLY"},
    "ajly": {"01", "02", "03", "04", "05", "99"},
    "cxlx": {"1", "2", "3"},
    "ajzt": {"01", "02", "03", "04", "05", "06", "07", "08"},
    "dsrlx": {"1", "2", "3", "4"},
    "zjlx": {"111", "414", "516", "511", "990"},
    "ysfx": {"1", "2"},
    "jsjglx": {"1", "2", "3", "4"},
    "zjlb": {"01", "02", "03", "04", "05", "06", "07", "08"},
    "zysf": {"SM3", "SHA256"},
    "wslx": {"01", "02", "03", "04", "99"},
    "yszt": {"10", "20", "30", "35", "40", "45", "50", "55", "61", "62", "65", "70"},
}  # fmt: skip

SoapFaultKind = Literal[
    "busy", "maintenance", "server_fault", "client_fault", "dtd", "malformed", "replay"
]


# --- answer documents ---------------------------------------------------------------------------


def _gbk(text: str) -> bytes:
    return text.encode("gbk")


def submit_result_document(code: str, ajbh: str | None = None, message: str | None = None) -> bytes:
    """A ``submitCaseInfoResponse`` as the platform writes it (GBK, prefix ns1)."""
    text = escape(message or MESSAGES.get(code, "错误"))
    ajbh_part = f"<ns1:ajbh>{ajbh}</ns1:ajbh>" if ajbh else ""
    return _gbk(
        f'{_HEAD}<ns1:submitCaseInfoResponse xmlns:ns1="{NAMESPACE}"><ns1:result>'
        f"<ns1:code>{code}</ns1:code><ns1:message>{text}</ns1:message>{ajbh_part}"
        f"</ns1:result></ns1:submitCaseInfoResponse>{_TAIL}"
    )


def fault_document(faultstring: str, faultcode: str = "soap:Server") -> bytes:
    """A SOAP 1.1 Fault (sent with HTTP 500), GBK."""
    return _gbk(
        f"{_HEAD}<soap:Fault><faultcode>{faultcode}</faultcode>"
        f"<faultstring>{escape(faultstring)}</faultstring></soap:Fault>{_TAIL}"
    )


@dataclass
class Notice:
    """One 检察监督通知 as the platform stores it; ``fields`` are the wire elements after
    ``seq`` (``tzbh`` … ``mgbs``, any text, e.g. ``null`` or ``2024年3月13日``), ``parties``
    the ``dsr`` elements."""

    seq: int
    fields: dict[str, str]
    parties: list[dict[str, str]] = field(default_factory=list)


_NOTICE_FIELDS = (
    "tzbh", "tzlx", "bbh", "sfm", "xzajbh", "ajmc", "fwjgmc", "fwjgdm", "fwrq", "jdnr", "dfqx",
    "mgbs",
)  # fmt: skip
_PARTY_FIELDS = ("dsrlx", "mc", "tyshxydm", "zjlx", "zjhm", "fddbr", "dz")


def _element(name: str, value: str) -> str:
    if name == "jdnr":
        return f"<ns1:jdnr><![CDATA[{value}]]></ns1:jdnr>"
    return f"<ns1:{name}>{escape(value)}</ns1:{name}>"


def _notice(notice: Notice) -> str:
    parts = [f"<ns1:seq>{notice.seq}</ns1:seq>"]
    parts += [_element(name, notice.fields.get(name, "")) for name in _NOTICE_FIELDS]
    parties = "".join(
        "<ns1:dsr>" + "".join(_element(n, p.get(n, "")) for n in _PARTY_FIELDS) + "</ns1:dsr>"
        for p in notice.parties
    )
    return f"<ns1:notice>{''.join(parts)}<ns1:dsrList>{parties}</ns1:dsrList></ns1:notice>"


def notice_page_document(notices: Sequence[Notice], max_seq: int, has_more: bool) -> bytes:
    """A ``fetchSupervisionNoticesResponse`` page (GBK, prefix ns1, ``jdnr`` in CDATA)."""
    body = "".join(_notice(n) for n in notices)
    return _gbk(
        f'{_HEAD}<ns1:fetchSupervisionNoticesResponse xmlns:ns1="{NAMESPACE}"><ns1:result>'
        f"<ns1:code>0</ns1:code><ns1:message>成功</ns1:message><ns1:maxSeq>{max_seq}</ns1:maxSeq>"
        f"<ns1:hasMore>{'true' if has_more else 'false'}</ns1:hasMore>"
        f"<ns1:notices>{body}</ns1:notices></ns1:result></ns1:fetchSupervisionNoticesResponse>"
        f"{_TAIL}"
    )


def _error_page(code: str) -> bytes:
    return _gbk(
        f'{_HEAD}<ns1:fetchSupervisionNoticesResponse xmlns:ns1="{NAMESPACE}"><ns1:result>'
        f"<ns1:code>{code}</ns1:code><ns1:message>{MESSAGES[code]}</ns1:message></ns1:result>"
        f"</ns1:fetchSupervisionNoticesResponse>{_TAIL}"
    )


_DTD_ANSWER = _gbk(
    '<?xml version="1.0" encoding="GBK"?><!DOCTYPE x [<!ENTITY a "b">]>'
    f'<soap:Envelope xmlns:soap="{_SOAP}"><soap:Body>&a;</soap:Body></soap:Envelope>'
)


# --- the service --------------------------------------------------------------------------------


@dataclass
class StoredSubmission:
    """What the platform holds for one ``sfm`` (01) or ``yslsh`` (02/03)."""

    ajbh: str
    info_type: str
    values: dict[str, str | None]
    times: int = 1


class _Refused(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _default_clock() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def _beijing_naive(at: dt.datetime) -> dt.datetime:
    return at.astimezone(SHANGHAI).replace(tzinfo=None) if at.tzinfo else at


def _local(tag: object) -> str:
    return etree.QName(str(tag)).localname


def _strip(element: etree._Element) -> etree._Element:
    """``element`` with namespace-free tags (a copy), for simple ``findtext`` paths."""
    copy = etree.fromstring(etree.tostring(element))
    for node in copy.iter():
        if isinstance(node.tag, str):
            node.tag = _local(node.tag)
    return copy


class TwoLawsSimulator(AsmxSimulator):
    """The two_laws exchange service on 127.0.0.1; use as a context manager.

    ``clock`` is the server's time (timestamp check); ``page_size`` the notices per page;
    ``rate_limit`` the calls per second of the account. ``submissions`` holds what was stored
    by key, ``notices`` the notices by orgCode.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], dt.datetime] = _default_clock,
        user_name: str = USER_NAME,
        password: str = PASSWORD,
        page_size: int = 50,
        rate_limit: int = 20,
        port: int = 0,
    ) -> None:
        super().__init__(wsdl=_WSDL.read_bytes(), path=PATH, namespace=NAMESPACE + "/", port=port)
        self.clock = clock
        self.user_name = user_name
        self.password = password
        self.page_size = page_size
        self.rate_limit = rate_limit
        self.submissions: dict[str, StoredSubmission] = {}
        self.notices: dict[str, list[Notice]] = {}
        self.maintenance = False
        self._replays = 0
        self._calls: deque[float] = deque()
        self._local = threading.local()
        self._data_lock = threading.Lock()
        self._ajbh = 0

    # --- test controls --------------------------------------------------------------------------

    def add_notice(self, org_code: str, notice: Notice) -> None:
        """Address ``notice`` to ``org_code`` (kept in ``seq`` order)."""
        with self._data_lock:
            items = self.notices.setdefault(org_code, [])
            items.append(notice)
            items.sort(key=lambda n: n.seq)

    def inject_soap(
        self, kind: SoapFaultKind, *, operation: str | None = None, times: int = 1
    ) -> None:
        """Queue a SOAP-level fault for the next ``times`` calls of ``operation`` (any)."""
        if kind == "replay":
            with self._data_lock:
                self._replays += times
            return
        answers: dict[str, Response] = {
            "busy": Response(200, self._code_answer(operation, "9001"), _GBK),
            "maintenance": Response(200, self._code_answer(operation, "9002"), _GBK),
            "server_fault": Response(500, fault_document("访问频率超限"), _GBK),
            "client_fault": Response(500, fault_document("请求格式错误", "soap:Client"), _GBK),
            "dtd": Response(200, _DTD_ANSWER, _GBK),
            "malformed": Response(200, submit_result_document("0", "LF")[:-40], _GBK),
        }
        self.inject_answer(answers[kind], operation=operation, times=times)

    @staticmethod
    def _code_answer(operation: str | None, code: str) -> bytes:
        if operation == "fetchSupervisionNotices":
            return _error_page(code)
        return submit_result_document(code)

    # --- the service ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve one request; the body is kept for the operations (they read all of it)."""
        self._local.body = request.body
        if request.method == "POST" and self._over_rate():
            return Response(500, fault_document("访问频率超限"), _GBK)
        return super().handle(request)

    def _over_rate(self) -> bool:
        now = time.monotonic()
        with self._data_lock:
            while self._calls and now - self._calls[0] > 1.0:
                self._calls.popleft()
            self._calls.append(now)
            return len(self._calls) > self.rate_limit

    def operations(self) -> Mapping[str, Operation]:
        """submitCaseInfo, fetchSupervisionNotices."""
        return {
            "submitCaseInfo": self._answering(self._submit, submit_result_document),
            "fetchSupervisionNotices": self._answering(self._fetch, _error_page),
        }

    def _answering(
        self, operation: Callable[[SoapCall], bytes], refusal: Callable[[str], bytes]
    ) -> Operation:
        def run(call: SoapCall) -> Response:
            try:
                self._authenticate(call)
                if self.maintenance:
                    raise _Refused("9002")
                return Response(200, operation(call), _GBK)
            except _Refused as refused:
                return Response(200, refusal(refused.code), _GBK)

        return run

    def _authenticate(self, call: SoapCall) -> None:
        auth = call.headers.get("AuthInfo", {})
        user, stamp = auth.get("userName", ""), auth.get("timestamp", "")
        if user != self.user_name or auth.get("signature") != sign(user, stamp, self.password):
            raise _Refused("1001")
        try:
            at = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S")
        except ValueError:
            raise _Refused("1002") from None
        if abs(_beijing_naive(self.clock()) - at) > MAX_SKEW:
            raise _Refused("1002")

    def _operation_element(self, name: str) -> etree._Element:
        try:
            root = parse_xml(self._local.body)
        except MessageRejected:
            raise _Refused("2004") from None
        found = root.find(f".//{{{NAMESPACE}}}{name}")
        if found is None:
            raise _Refused("2001")
        return _strip(found)

    # --- fetchSupervisionNotices ----------------------------------------------------------------

    def _fetch(self, _call: SoapCall) -> bytes:
        request = self._operation_element("fetchSupervisionNotices")
        org_code = (request.findtext("orgCode") or "").strip()
        since_text = (request.findtext("sinceSeq") or "").strip()
        _authorised(org_code)
        if not since_text.isdigit():
            raise _Refused("2004")
        since = int(since_text)
        with self._data_lock:
            newer = [n for n in self.notices.get(org_code, []) if n.seq > since]
            replay = [n for n in self.notices.get(org_code, []) if n.seq <= since][-2:]
            if self._replays and replay:
                self._replays -= 1
            else:
                replay = []
        page = newer[: self.page_size]
        max_seq = page[-1].seq if page else since
        return notice_page_document([*replay, *page], max_seq, len(newer) > len(page))

    # --- submitCaseInfo -------------------------------------------------------------------------

    def _submit(self, _call: SoapCall) -> bytes:
        request = self._operation_element("submitCaseInfo")
        info_type = (request.findtext("infoType") or "").strip()
        org_code = (request.findtext("orgCode") or "").strip()
        if info_type in ("01", "02") or org_code:
            _authorised(org_code)
        if info_type == "01":
            case = request.find("caseInfo")
            if case is None:
                raise _Refused("2001")
            _check_case(case)
            return self._store(_text(case, "sfm"), "01", _values(case), _text(case, "xzqhdm"))
        if info_type in ("02", "03"):
            transfer = request.find("transferInfo")
            if transfer is None:
                raise _Refused("2001")
            _check_transfer(transfer, info_type)
            division = org_code[2:8] if org_code else "350000"
            return self._store(_text(transfer, "yslsh"), info_type, _values(transfer), division)
        raise _Refused("2002")

    def _store(
        self, key: str, info_type: str, values: dict[str, str | None], division: str
    ) -> bytes:
        with self._data_lock:
            stored = self.submissions.get(key)
            if stored is not None:
                stored.values.update(values)  # omitted keeps, empty clears (a value of "")
                stored.times += 1
                if info_type == "02" or stored.info_type == "03":
                    stored.info_type = info_type
                return submit_result_document("1", stored.ajbh)
            self._ajbh += 1
            year = _beijing_naive(self.clock()).year
            ajbh = f"LF{division}{year}{self._ajbh:05d}"
            self.submissions[key] = StoredSubmission(ajbh, info_type, values)
            return submit_result_document("0", ajbh)


def _text(element: etree._Element, path: str) -> str:
    return (element.findtext(path) or "").strip()


def _values(element: etree._Element) -> dict[str, str | None]:
    """The scalar children as sent (``""`` for an empty element), lists as their XML."""
    out: dict[str, str | None] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        out[child.tag] = (
            etree.tostring(child, encoding="unicode") if len(child) else (child.text or "")
        )
    return out


def _authorised(org_code: str) -> None:
    try:
        code = check_uscc(org_code)
    except ValueError:
        raise _Refused("2004") from None
    if code[2:4] != "35":
        raise _Refused("1003")


def _require(element: etree._Element, names: Sequence[str]) -> None:
    if any(not _text(element, name) for name in names):
        raise _Refused("2001")


def _codes(element: etree._Element) -> None:
    for node in element.iter():
        text = (node.text or "").strip()
        if (
            isinstance(node.tag, str)
            and node.tag in _CODES
            and text
            and text not in _CODES[node.tag]
        ):
            raise _Refused("2002")


def _time(text: str, *, optional: bool = False) -> None:
    if optional and not text:
        return
    try:
        dt.datetime.strptime(text, _TIME)
    except ValueError:
        raise _Refused("2004") from None


def _check_case(case: etree._Element) -> None:
    _require(case, ("sfm", "xzajbh", "ajmc", "lydm", "xzjgmc", "xzjgdm", "xzqhdm", "ajly",
                    "cxlx", "ajzt", "lasj", "wfxwlx", "ajqk", "sajz", "zsbz"))  # fmt: skip
    _codes(case)
    _time(_text(case, "lasj"))
    _time(_text(case, "jasj"), optional=True)
    if not _AMOUNT.fullmatch(_text(case, "sajz")) or len(_text(case, "ajqk")) > 4000:
        raise _Refused("2004")
    if _text(case, "zsbz") not in ("1", "2", "3"):
        raise _Refused("2002")
    parties = case.findall("dsrList/dsr")
    if not parties:
        raise _Refused("2001")
    for party in parties:
        _require(party, ("dsrlx", "mc"))
        _require(party, ("zjlx", "zjhm") if _text(party, "dsrlx") == "4" else ("tyshxydm",))


def _check_transfer(transfer: etree._Element, info_type: str) -> None:
    _require(transfer, ("yslsh", "ysfx", "sfm", "yszt", "ztbgsj"))
    if info_type == "02":
        _require(transfer, ("ysjgmc", "ysjgdm", "jsjgmc", "jsjglx", "xyzm"))
        if _text(transfer, "ysfx") == "1":
            _require(transfer, ("cfgz",))
    _codes(transfer)
    _time(_text(transfer, "ztbgsj"))
    for evidence in transfer.findall("zjList/zj"):
        _require(evidence, ("mc", "zjlb", "zysf", "zyz", "dx"))
        if not _DIGEST.fullmatch(_text(evidence, "zyz")) or not _text(evidence, "dx").isdigit():
            raise _Refused("2004")
    for entry in transfer.findall("lsjl/jl"):
        _require(entry, ("zt", "sj", "czr"))
        _time(_text(entry, "sj"))
    try:
        for figure in filter(None, _text(transfer, "cfsj").split(";")):
            _name, _, rest = figure.partition("=")
            value, _, threshold = rest.partition("/")
            Decimal(value)
            if threshold:
                Decimal(threshold)
    except InvalidOperation:
        raise _Refused("2004") from None
