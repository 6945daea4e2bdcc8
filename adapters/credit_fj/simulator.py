"""A simulator of the 信用福建 gateway, served on loopback by ``HttpSimulator``.

It behaves as the README says the platform does, so that the adapter is tested against the
rules rather than against itself:

- every request is authenticated as in §2.3, in this order: app key (1004), ``X-Timestamp``
  within ±300 000 ms of the simulator's clock (1002), signature recomputed over the raw bytes
  received (1001; also for a missing or malformed ``X-Nonce`` / ``X-Sign``), nonce not seen for
  that app key in the last 10 minutes (1003); all of them answered with HTTP 200 (quirk Q1);
- a push is checked as a batch (§2.4, §4.0, Q9): JSON object (1102), ``dataType`` of the
  endpoint (1103), 1..100 records (more → 1101), ``total`` = number of records, no ``null``
  anywhere, every key of the field table present as a string, no other key (1102);
- a ``batchNo`` already processed with the same records answers the stored response with
  ``"replayed": true``; with other records 1105 (§2.5, Q10);
- each record is checked (E2001 required, E2004 code tables, E2002 GB 32100, E2003 dates,
  E2005 万元 amounts, E2007 masking; E2006 for keys marked ``locked``; a one-shot E3001/E3002
  with ``fail_record_once``) and the valid ones are upserted on their business key, answered
  in ``accepted`` with a stable ``recordId`` (``duplicate`` when identical) — partial
  acceptance is per record, ``rejected`` listed in reverse order (Q3: it is not sorted);
- a lookup answers 2005 for a malformed code, 2004 for an unknown subject, else 0000 with the
  subject given to ``add_subject``.

Faults: ``HttpSimulator.inject(maintenance(...))`` answers nginx's HTML 503 page (optionally with
``Retry-After``), ``inject(rate_limited(n))`` the gateway's 429 with ``Retry-After: n``.

Example::

    platform = CreditFjPlatform()
    with serve(platform) as simulator:
        transport = HttpTransport("credit_fj", simulator.url)
        ...
        simulator.inject(maintenance(retry_after=120))
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import PydanticCustomError

from adapters._simulators.http import Fault, HttpSimulator, Request, Response
from adapters.credit_fj.signing import NONCE_PATTERN, verify_signature
from schemas.identifiers import USCC_PLACEHOLDER, check_uscc

__all__ = [
    "DEMO_APP_KEY",
    "DEMO_SECRET",
    "CreditFjPlatform",
    "maintenance",
    "rate_limited",
    "serve",
]

DEMO_APP_KEY = "MZF-ESB-350000-01"
DEMO_SECRET = "7d3f9a2c41be4e8a9c06f5b1e2d87a43"
"""The README's joint-test credentials (§2.3), also the adapter's demo config."""

WINDOW_MS = 300_000
NONCE_TTL_MS = 600_000
MAX_BODY = 2 * 1024 * 1024

MESSAGES = {
    "0000": "全部成功",
    "0001": "部分成功",
    "0002": "全部失败",
    "1001": "签名校验失败",
    "1002": "时间戳超出允许范围",
    "1003": "nonce 重复",
    "1004": "AppKey 无效或已停用",
    "1101": "单批记录数超过100",
    "1102": "请求体不是合法 JSON / 字段类型错误",
    "1103": "dataType 与接口不符",
    "1105": "批次号重复且内容不一致",
    "2004": "主体不存在",
    "2005": "统一社会信用代码格式错误",
    "4290": "请求过于频繁",
    "E2001": "必填项为空",
    "E2002": "统一社会信用代码校验不通过",
    "E2003": "日期格式错误或日期逻辑错误",
    "E2004": "代码值不在代码表内",
    "E2005": "金额格式错误（须为6位小数的字符串）",
    "E2006": "该记录已撤销或处于信用修复流程，不允许覆盖",
    "E2007": "自然人信息未按要求脱敏",
    "E3001": "记录入库超时，请稍后重传",
    "E3002": "数据正在被其他批次处理",
}

MAINTENANCE_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>系统维护中</title></head>'
    "<body><h1>503 Service Temporarily Unavailable</h1><p>信用福建平台系统维护中，"
    "请于每周日04:00后重试。</p><hr><center>nginx</center></body></html>"
).encode()

_USCC_PATTERN = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
_WAN = re.compile(r"([0-9]{1,10}\.[0-9]{6})?")
_LOOKUP = re.compile(r"/api/credit/v1/subjects/(?P<uscc>[^/]*)")
_PUSHES = {"/api/sgs/v2/penalties": "XZCF", "/api/sgs/v2/licenses": "XZXK"}
_XDRLB = {"法人及非法人组织", "个体工商户", "自然人"}
_ZJLX = {"", "身份证", "护照号", "港澳居民来往内地通行证", "台湾居民来往大陆通行证"}
_ZJLX |= {"外国人永久居留身份证", "其他"}
_CFLB = {"警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级"}
_CFLB |= {"吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业"}
_CFLB |= {"行政拘留", "其他"}


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class _Kind:
    """The record rules of one data type (README §4.1 / §4.2 field tables)."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    party: tuple[str, str, str, str, str, str]  # MC, LB, SHXYM, FRDB, ZJLX, ZJHM
    usccs: tuple[str, ...]
    dates: tuple[str, ...]
    date_order: tuple[str, str]  # (earlier, later)
    amounts: tuple[str, ...]
    codes: Mapping[str, frozenset[str]]
    key: tuple[str, str]


_PENALTY = _Kind(
    fields=_names(
        "CF_XDR_MC CF_XDR_LB CF_XDR_SHXYM CF_XDR_GSZC CF_XDR_ZZJG CF_XDR_SWDJ CF_XDR_SYDW "
        "CF_XDR_SHZZ CF_FRDB CF_FR_ZJLX CF_FR_ZJHM CF_XDR_ZJLX CF_XDR_ZJHM CF_WSH CF_WFXW CF_SY "
        "CF_YJ CF_CFLB CF_NR CF_NR_FK CF_NR_WFFF CF_NR_ZKDX CF_JDRQ CF_YXQ CF_GSJZQ CF_CFJG "
        "CF_CFJGDM CF_SJLY CF_SJLYDM BZ"
    ),
    required=_names(
        "CF_XDR_MC CF_XDR_LB CF_WSH CF_WFXW CF_SY CF_YJ CF_CFLB CF_NR CF_JDRQ CF_YXQ CF_GSJZQ "
        "CF_CFJG CF_CFJGDM CF_SJLY CF_SJLYDM"
    ),
    party=("CF_XDR_MC", "CF_XDR_LB", "CF_XDR_SHXYM", "CF_FRDB", "CF_XDR_ZJLX", "CF_XDR_ZJHM"),
    usccs=("CF_XDR_SHXYM", "CF_CFJGDM", "CF_SJLYDM"),
    dates=("CF_JDRQ", "CF_YXQ", "CF_GSJZQ"),
    date_order=("CF_JDRQ", "CF_GSJZQ"),
    amounts=("CF_NR_FK", "CF_NR_WFFF"),
    codes={
        "CF_XDR_LB": frozenset(_XDRLB),
        "CF_XDR_ZJLX": frozenset(_ZJLX),
        "CF_FR_ZJLX": frozenset(_ZJLX),
    },
    key=("CF_WSH", "CF_CFJGDM"),
)

_LICENSE = _Kind(
    fields=_names(
        "XK_XDR_MC XK_XDR_LB XK_XDR_SHXYM XK_XDR_GSZC XK_XDR_ZZJG XK_XDR_SWDJ XK_XDR_SYDW "
        "XK_XDR_SHZZ XK_FRDB XK_FR_ZJLX XK_FR_ZJHM XK_XDR_ZJLX XK_XDR_ZJHM XK_XKWS XK_WSH "
        "XK_XKLB XK_XKZS XK_XKBH XK_NR XK_JDRQ XK_YXQZ XK_YXQZI XK_XKJG XK_XKJGDM XK_ZT XK_LYDW "
        "XK_LYDWDM BZ"
    ),
    required=_names(
        "XK_XDR_MC XK_XDR_LB XK_XKWS XK_WSH XK_XKLB XK_NR XK_JDRQ XK_YXQZ XK_YXQZI XK_XKJG "
        "XK_XKJGDM XK_ZT XK_LYDW XK_LYDWDM"
    ),
    party=("XK_XDR_MC", "XK_XDR_LB", "XK_XDR_SHXYM", "XK_FRDB", "XK_XDR_ZJLX", "XK_XDR_ZJHM"),
    usccs=("XK_XDR_SHXYM", "XK_XKJGDM", "XK_LYDWDM"),
    dates=("XK_JDRQ", "XK_YXQZ", "XK_YXQZI"),
    date_order=("XK_YXQZ", "XK_YXQZI"),
    amounts=(),
    codes={
        "XK_XDR_LB": frozenset(_XDRLB),
        "XK_XDR_ZJLX": frozenset(_ZJLX),
        "XK_FR_ZJLX": frozenset(_ZJLX),
        "XK_XKLB": frozenset({"普通", "特许", "认可", "核准", "登记", "其他"}),
        "XK_ZT": frozenset({"1", "2"}),
    },
    key=("XK_WSH", "XK_XKJGDM"),
)

_KINDS = {"XZCF": _PENALTY, "XZXK": _LICENSE}


def _wall_clock() -> int:
    return time.time_ns() // 1_000_000


class _Refused(Exception):
    """A request- or batch-level refusal: answered with ``code`` and no records."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Stored:
    record_id: str
    content: dict[str, str]


@dataclass
class _Batch:
    fingerprint: str
    answer: dict[str, Any]


@dataclass
class CreditFjPlatform:
    """The platform's state and rules; ``handle`` answers one HTTP request.

    ``app_keys`` maps app keys to secrets; ``clock`` gives the platform's time in epoch ms
    (tests fix it to check the ±300 s window). ``bom`` prefixes answers with a UTF-8 BOM, as
    some gateway nodes do (quirk Q4). ``locked`` holds business keys ``(文书号, 机关代码)`` under
    revocation or 信用修复 (E2006). ``records`` is what the platform stores, by
    ``(dataType, 文书号, 机关代码)``.
    """

    app_keys: Mapping[str, str] = field(default_factory=lambda: {DEMO_APP_KEY: DEMO_SECRET})
    clock: Callable[[], int] = field(default_factory=lambda: _wall_clock)
    bom: bool = False
    locked: set[tuple[str, str]] = field(default_factory=set)
    records: dict[tuple[str, str, str], _Stored] = field(init=False, default_factory=dict)
    subjects: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    _nonces: dict[tuple[str, str], int] = field(init=False, default_factory=dict)
    _batches: dict[tuple[str, str], _Batch] = field(init=False, default_factory=dict)
    _transient: dict[tuple[str, str], str] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    # --- test set-up --------------------------------------------------------------------------

    def add_subject(self, data: Mapping[str, Any]) -> None:
        """Make a subject known to lookups; ``data`` is the answer's ``data`` (TYSHXYDM …)."""
        code = str(data["TYSHXYDM"])
        with self._lock:
            self.subjects[code] = dict(data)

    def fail_record_once(self, wsh: str, agency_uscc: str, code: str = "E3001") -> None:
        """Answer the record with this business key once with a transient ``code`` (E3xxx)."""
        with self._lock:
            self._transient[(wsh, agency_uscc)] = code

    # --- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The answer to one request (HTTP 200 with a JSON ``code`` for every business outcome)."""
        with self._lock:
            data_type = _PUSHES.get(request.path) if request.method == "POST" else None
            lookup = _LOOKUP.fullmatch(request.path) if request.method == "GET" else None
            if data_type is None and lookup is None:
                return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>")
            try:
                app_key = self._authenticate(request)
                if lookup is not None:
                    return self._json(self._lookup(lookup["uscc"]))
                return self._json(self._push(app_key, str(data_type), request.body))
            except _Refused as refused:
                return self._json(_answer(refused.code, None))

    def _authenticate(self, request: Request) -> str:
        headers = request.headers
        app_key = headers.get("x-app-key", "")
        secret = self.app_keys.get(app_key)
        if secret is None:
            raise _Refused("1004")
        timestamp = headers.get("x-timestamp", "")
        now = self.clock()
        if not timestamp.isdigit() or abs(now - int(timestamp)) > WINDOW_MS:
            raise _Refused("1002")
        nonce, sign = headers.get("x-nonce", ""), headers.get("x-sign", "")
        if not NONCE_PATTERN.fullmatch(nonce) or not verify_signature(
            secret, request.method, request.path, timestamp, nonce, request.body, sign
        ):
            raise _Refused("1001")
        self._nonces = {k: at for k, at in self._nonces.items() if now - at < NONCE_TTL_MS}
        if (app_key, nonce) in self._nonces:
            raise _Refused("1003")
        self._nonces[(app_key, nonce)] = now
        return app_key

    def _json(self, answer: Mapping[str, Any]) -> Response:
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        if self.bom:
            body = codecs.BOM_UTF8 + body
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    # --- lookups ------------------------------------------------------------------------------

    def _lookup(self, code: str) -> dict[str, Any]:
        if not _USCC_PATTERN.fullmatch(code) or not _uscc_ok(code):
            raise _Refused("2005")
        subject = self.subjects.get(code)
        if subject is None:
            raise _Refused("2004")
        return _answer("0000", subject, msg="成功")

    # --- pushes -------------------------------------------------------------------------------

    def _push(self, app_key: str, data_type: str, body: bytes) -> dict[str, Any]:
        document = _batch_document(body)
        if document.get("dataType") != data_type:
            raise _Refused("1103")
        batch_no, records = _check_batch(document, _KINDS[data_type])
        fingerprint = json.dumps([data_type, records], ensure_ascii=False, sort_keys=True)
        stored = self._batches.get((app_key, batch_no))
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise _Refused("1105")
            return stored.answer | {"replayed": True}
        answer = self._process(data_type, batch_no, records)
        self._batches[(app_key, batch_no)] = _Batch(fingerprint, answer)
        return answer

    def _process(
        self, data_type: str, batch_no: str, records: list[dict[str, str]]
    ) -> dict[str, Any]:
        kind = _KINDS[data_type]
        accepted: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            key = (record[kind.key[0]], record[kind.key[1]])
            code = _record_code(kind, record)
            if code is None and key in self.locked:
                code = "E2006"
            if code is None and key in self._transient:
                code = self._transient.pop(key)
            if code is not None:
                msg = f"第{index + 1}条{MESSAGES[code]}"
                rejected.append({"index": index, "code": code, "msg": msg})
                continue
            record_id, duplicate = self._upsert(data_type, kind, record)
            accepted.append({"index": index, "recordId": record_id, "duplicate": duplicate})
        status = "0000" if not rejected else "0001" if accepted else "0002"
        data = {
            "batchNo": batch_no,
            "total": len(records),
            "accepted": accepted,
            "rejected": rejected[::-1],
        }
        return _answer(status, data)

    def _upsert(self, data_type: str, kind: _Kind, record: dict[str, str]) -> tuple[str, bool]:
        key = (data_type, record[kind.key[0]], record[kind.key[1]])
        stored = self.records.get(key)
        if stored is not None:
            duplicate = stored.content == record
            stored.content = dict(record)
            return stored.record_id, duplicate
        decided = record[kind.dates[0]].replace("/", "")
        record_id = f"{data_type}{record[kind.key[1]][2:8]}{decided}{len(self.records) + 1:06d}"
        self.records[key] = _Stored(record_id, dict(record))
        return record_id, False


# --- batch and record rules -------------------------------------------------------------------


def _answer(code: str, data: Any, msg: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "msg": msg or MESSAGES.get(code, ""),
        "requestId": secrets.token_hex(8),
        "data": data,
    }


def _batch_document(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY or body.startswith(codecs.BOM_UTF8):
        raise _Refused("1102")
    try:
        document = json.loads(body.decode("utf-8"))
    except ValueError:
        raise _Refused("1102") from None
    if not isinstance(document, dict):
        raise _Refused("1102")
    return document


def _check_batch(document: dict[str, Any], kind: _Kind) -> tuple[str, list[dict[str, str]]]:
    batch_no, total, records = (document.get(k) for k in ("batchNo", "total", "records"))
    if not isinstance(records, list) or not isinstance(total, int) or isinstance(total, bool):
        raise _Refused("1102")
    if len(records) > 100 or total > 100:
        raise _Refused("1101")
    if not isinstance(batch_no, str) or not 0 < len(batch_no) <= 32:
        raise _Refused("1102")
    if not records or total != len(records):
        raise _Refused("1102")
    for record in records:
        if not isinstance(record, dict) or set(record) != set(kind.fields):
            raise _Refused("1102")
        if not all(isinstance(value, str) for value in record.values()):
            raise _Refused("1102")  # Q9: a null (or a number) anywhere fails the whole batch
    return batch_no, records


def _uscc_ok(code: str, *, placeholder: bool = False) -> bool:
    try:
        return check_uscc(code, allow_placeholder=placeholder) == code
    except PydanticCustomError:
        return False


def _date(text: str) -> dt.date | None:
    if not re.fullmatch(r"[0-9]{4}/[0-9]{2}/[0-9]{2}", text):
        return None
    try:
        return dt.datetime.strptime(text, "%Y/%m/%d").date()
    except ValueError:
        return None


def _masked(name: str, number: str) -> bool:
    name_ok = len(name) <= 1 or set(name[1:]) == {"*"}
    number_ok = len(number) <= 10 or set(number[6:-4]) == {"*"}
    return name_ok and number_ok


def _required(kind: _Kind, record: dict[str, str]) -> list[str]:
    _, lb, shxym, frdb, zjlx, zjhm = kind.party
    needed = list(kind.required)
    needed += [zjlx, zjhm] if record[lb] == "自然人" else [shxym, frdb]
    if kind is _PENALTY:
        kinds = record["CF_CFLB"].split(";")
        needed += ["CF_NR_FK"] if "罚款" in kinds else []
        needed += ["CF_NR_WFFF"] if {"没收违法所得", "没收非法财物"} & set(kinds) else []
        needed += ["CF_NR_ZKDX"] if {"暂扣许可证件", "吊销许可证件"} & set(kinds) else []
    return needed


def _record_code(kind: _Kind, record: dict[str, str]) -> str | None:  # noqa: PLR0911
    """The first per-record error code (README §5.2), or None for a valid record."""
    if any(not record[name].strip() for name in _required(kind, record)):
        return "E2001"
    if any(record[name] not in allowed for name, allowed in kind.codes.items()):
        return "E2004"
    if kind is _PENALTY and not set(record["CF_CFLB"].split(";")) <= _CFLB:
        return "E2004"
    business = record[kind.party[1]] == "个体工商户"
    for name in kind.usccs:
        value = record[name]
        if value and not _uscc_ok(value, placeholder=business and value == USCC_PLACEHOLDER):
            return "E2002"
    dates = [_date(record[name]) for name in kind.dates]
    if any(day is None for day in dates):
        return "E2003"
    earlier, later = (_date(record[name]) for name in kind.date_order)
    if earlier is not None and later is not None and later < earlier:
        return "E2003"
    if any(not _WAN.fullmatch(record[name]) for name in kind.amounts):
        return "E2005"
    mc, lb, *_, zjhm = kind.party
    if record[lb] == "自然人" and not _masked(record[mc], record[zjhm]):
        return "E2007"
    return None


# --- faults and serving -----------------------------------------------------------------------


def maintenance(retry_after: int | None = None, status: int = 503) -> Fault:
    """nginx's HTML page during maintenance or a deploy (quirk Q2), for ``inject``."""
    return Fault(kind="status", status=status, retry_after=retry_after, body=MAINTENANCE_PAGE)


def rate_limited(retry_after: int) -> Fault:
    """The gateway's rate-limit answer: HTTP 429, JSON code 4290, ``Retry-After`` (§5.1)."""
    body = json.dumps(_answer("4290", None), ensure_ascii=False).encode()
    return Fault(kind="status", status=429, retry_after=retry_after, body=body)


def serve(platform: CreditFjPlatform | None = None, port: int = 0) -> HttpSimulator:
    """An ``HttpSimulator`` (not yet started; use it as a context manager) of ``platform``."""
    return HttpSimulator((platform or CreditFjPlatform()).handle, port=port)
