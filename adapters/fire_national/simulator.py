"""A simulator of the national fire-supervision exchange, served on loopback by ``HttpSimulator``.

It behaves as the README says the national side does, so the adapter is tested against the
rules rather than against itself:

- every request is a secure envelope (POST body, or the ``GET …/tasks`` query), checked in the
  order of §2.3: appId (40101), ``sign`` recomputed over the raw Base64 text, case-insensitive
  (40104; a ``+`` left unencoded in the query arrives as a space and fails here, as on the
  national gateway), ``timestamp`` within ±300 s of the simulator's clock (40102), nonce not
  reused by the appId within 15 minutes (40103), decryption with the fixed IV (40003), payload
  shape (40001); all answered with HTTP 200 and a string ``code`` (§2.5);
- uploads (``penalties``, ``inspections``; at most 100 records) are checked per record: every
  key of the field table present, code tables (N1, N2, N3, N4, N5; an unknown N6 ``itemCode``
  is ``40011``); an accepted record gets a ``receiptNo``, a ``dataId`` received before answers
  ``40901`` with the original ``receiptNo`` (the whole answer is ``40901`` when every record was);
- ``GET …/tasks`` serves every unacknowledged task version (oldest first) in pages of
  ``pageSize``, sealed with the same credentials and its own timestamp and nonce;
  ``POST …/tasks/ack`` removes the versions it acknowledges.

Faults: ``HttpSimulator.inject`` (latency, gateway 502/503/504, dropped connections, malformed
bodies) plus ``refuse_next(code, times)`` (a plain error answer such as ``42900`` or ``50300``),
``spoil_next_page(kind)`` (a tasks page whose ``sign`` does not verify, or whose ``encryptData``
does not decrypt), ``duplicate_in_page`` (a task listed twice in one page, §2.7), ``bom`` and
``upper_sign`` (gateway quirks of §2.5).

Example::

    platform = FireNationalPlatform()
    platform.add_task(task)
    with HttpSimulator(platform.handle) as simulator:
        ...  # SPEC.connect(config(simulator.url)), SPEC.poll(ctx, config) …
"""

from __future__ import annotations

import base64
import codecs
import copy
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from adapters._simulators.http import Request, Response
from adapters.fire_national import DEMO_CONFIG
from adapters.fire_national._envelope import NONCE, Keys, open_envelope, seal, sign
from runner.adapter_api import MessageRejected

__all__ = ["MESSAGES", "FireNationalPlatform", "demo_keys"]

WINDOW_MS = 300_000
NONCE_TTL_MS = 900_000
MAX_RECORDS = 100
_PROVINCE = "/api/v2/province/35"
_CASE_CODE = re.compile(r"FJ\d{10}[A-Z]{2}[0-9A-F]{8}")

MESSAGES = {
    "0": "成功",
    "40001": "参数错误",
    "40003": "解密失败",
    "40011": "代码值不在国家代码表中",
    "40101": "appId 不存在或已停用",
    "40102": "时间戳超出允许范围",
    "40103": "nonce 重复",
    "40104": "签名验证失败",
    "40301": "无权访问该省份数据",
    "40901": "数据已接收",
    "42900": "请求过于频繁",
    "50000": "系统内部错误",
    "50300": "系统维护中",
}

_UNIT_TYPES = frozenset({"10", "20", "30", "40", "50", "60", "70", "80", "90"})


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ID_TYPES = frozenset({"1", "2", "3", "4", "9", None})
_PENALTY_TYPES = frozenset(
    _words("100 110 200 310 320 410 420 430 510 520 521 522 530 540 600 900")
)
_CHECK_TYPES = frozenset({"101", "102", "103", "104", "105"})
_CHECK_RESULTS = frozenset({"1", "2", "3", "4", "9"})
_ITEMS = frozenset(_words("0101 0102 0201 0301 0302 0401 0501 0502 0601 0701 0801 0901 1001 1101"))
_PENALTY_KEYS = tuple(
    _words(
        "dataId provinceCode caseCode decisionNo unitType partyName creditCode legalPerson idType "
        "idNo address areaCode illegalAct illegalFacts legalBasis penaltyBasis penaltyTypes "
        "fineAmountFen confiscatedAmountFen licenseAffected decisionDate orgName orgCreditCode "
        "orgAreaCode publicityEndDate"
    )
)
_INSPECTION_KEYS = tuple(
    _words(
        "dataId provinceCode inspectionNo taskNo checkType unitName creditCode unitType "
        "legalPerson address areaCode orgName orgCreditCode orgAreaCode inspectors planDate "
        "checkTime checkItems checkResult problems caseCode"
    )
)
_UPLOADS = {
    f"{_PROVINCE}/penalties": ("XF_PENALTY", _PENALTY_KEYS),
    f"{_PROVINCE}/inspections": ("XF_INSPECTION", _INSPECTION_KEYS),
}


def demo_keys() -> Keys:
    """The README's joint-test credentials (§2.2), as the adapter's demo config has them."""
    return Keys(
        str(DEMO_CONFIG["app_id"]),
        str(DEMO_CONFIG["app_secret"]).encode(),
        bytes.fromhex(str(DEMO_CONFIG["sm4_key"])),
        bytes.fromhex(str(DEMO_CONFIG["sm4_iv"])),
    )


def _wall_clock() -> int:
    return time.time_ns() // 1_000_000


class _Refused(Exception):
    """A request-level refusal, answered with ``code`` and ``data: null``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class FireNationalPlatform:
    """The national side's state and rules; ``handle`` answers one HTTP request.

    ``clock`` gives its time in epoch ms (tests move it to check the ±300 s window).
    ``records`` holds what it stored, by ``dataId``: ``(dataType, receiptNo, record)``.
    ``pending`` holds the unacknowledged task versions in the order they were issued;
    ``served`` counts how often each ``(taskId, version)`` was served in a page that was not
    spoiled (one the poller can read).
    """

    keys: Keys = field(default_factory=demo_keys)
    clock: Callable[[], int] = field(default_factory=lambda: _wall_clock)
    bom: bool = False
    upper_sign: bool = False
    duplicate_in_page: bool = False
    records: dict[str, tuple[str, str, dict[str, Any]]] = field(init=False, default_factory=dict)
    pending: list[dict[str, Any]] = field(init=False, default_factory=list)
    acked: list[tuple[str, int, str]] = field(init=False, default_factory=list)
    served: dict[tuple[str, int], int] = field(init=False, default_factory=dict)
    _nonces: dict[str, int] = field(init=False, default_factory=dict)
    _refusals: list[tuple[str, bool]] = field(init=False, default_factory=list)
    _spoil: list[str] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    # --- set-up and faults --------------------------------------------------------------------

    def add_task(self, task: Mapping[str, Any]) -> None:
        """Issue a task version (a dict as in §3.3); it is served until acknowledged."""
        with self._lock:
            self.pending.append(copy.deepcopy(dict(task)))

    def refuse_next(self, code: str, times: int = 1, *, polls_only: bool = False) -> None:
        """Answer the next ``times`` requests (only ``GET …/tasks`` ones with ``polls_only``)
        with the plain error answer ``code``."""
        with self._lock:
            self._refusals += [(code, polls_only)] * times

    def replace_task(self, task_id: str, task: Mapping[str, Any]) -> None:
        """Withdraw every pending version of ``task_id`` and issue ``task`` (a new version)."""
        with self._lock:
            self.pending = [t for t in self.pending if t.get("taskId") != task_id]
            self.pending.append(copy.deepcopy(dict(task)))

    def spoil_next_page(self, kind: str = "sign") -> None:
        """Spoil the next tasks page: ``sign`` (does not verify), ``decrypt`` (wrong padding),
        ``json`` (decrypts to bytes that are not JSON)."""
        if kind not in ("sign", "decrypt", "json"):
            raise ValueError(f"unknown page fault '{kind}'")
        with self._lock:
            self._spoil.append(kind)

    # --- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The answer to one request (HTTP 200 with a string ``code`` for every outcome)."""
        with self._lock:
            route = (request.method, urlsplit(request.path).path)
            known = route in {("GET", f"{_PROVINCE}/tasks"), ("POST", f"{_PROVINCE}/tasks/ack")}
            if not known and not (request.method == "POST" and route[1] in _UPLOADS):
                return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>")
            try:
                if self._refusals and (request.method == "GET" or not self._refusals[0][1]):
                    raise _Refused(self._refusals.pop(0)[0])
                if request.method == "GET":
                    envelope = {k: v[0] for k, v in request.query.items() if v}
                    return self._tasks(self._payload(envelope))
                envelope = _json_object(request.body)
                payload = self._payload(envelope)
                if route[1].endswith("/ack"):
                    return self._ack(payload)
                return self._upload(route[1], payload)
            except _Refused as refused:
                return self._answer(refused.code, None)

    def _payload(self, envelope: Mapping[str, Any]) -> Any:
        """The checked, decrypted payload of a request envelope (§2.3 receiver order)."""
        if envelope.get("appId") != self.keys.app_id:
            raise _Refused("40101")
        try:
            plain = open_envelope(self.keys, envelope)
        except MessageRejected as exc:
            bad_sign = exc.rule in ("signature", "envelope_field", "app_id")
            raise _Refused("40104" if bad_sign else "40003") from None
        timestamp, nonce = str(envelope.get("timestamp")), str(envelope.get("nonce"))
        now = self.clock()
        if not (timestamp.isdigit() and len(timestamp) == 13) or abs(now - int(timestamp)) > (
            WINDOW_MS
        ):
            raise _Refused("40102")
        self._nonces = {k: at for k, at in self._nonces.items() if now - at < NONCE_TTL_MS}
        if not NONCE.fullmatch(nonce) or nonce in self._nonces:
            raise _Refused("40103")
        self._nonces[nonce] = now
        try:  # a wrong key or IV garbles the plaintext: the national side says 40003
            return json.loads(plain.decode("utf-8"))
        except ValueError:
            raise _Refused("40003") from None

    def _answer(self, code: str, data: Any) -> Response:
        answer = {
            "code": code,
            "msg": MESSAGES.get(code, ""),
            "requestId": str(uuid.uuid4()),
            "data": data,
        }
        return self._json(answer)

    def _json(self, answer: Mapping[str, Any]) -> Response:
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if self.bom:
            body = codecs.BOM_UTF8 + body
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    # --- uploads ------------------------------------------------------------------------------

    def _upload(self, path: str, payload: Any) -> Response:
        data_type, keys = _UPLOADS[path]
        if not isinstance(payload, dict) or payload.get("dataType") != data_type:
            raise _Refused("40001")
        records = payload.get("records")
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
            raise _Refused("40001")
        results = [self._record(data_type, keys, record) for record in records]
        accepted = sum(1 for r in results if r["code"] == "0")
        rejected = sum(1 for r in results if r["code"] not in ("0", "40901"))
        code = "40901" if all(r["code"] == "40901" for r in results) else "0"
        data = {"accepted": accepted, "rejected": rejected, "results": results}
        return self._answer(code, data)

    def _record(self, data_type: str, keys: tuple[str, ...], record: Any) -> dict[str, Any]:
        data_id = record.get("dataId") if isinstance(record, dict) else None
        code = _record_code(data_type, keys, record)
        result: dict[str, Any] = {"dataId": data_id, "code": code, "msg": MESSAGES[code]}
        if code != "0":
            return result | {"receiptNo": None}
        stored = self.records.get(str(data_id))
        if stored is not None:
            return result | {"code": "40901", "msg": "dataId重复", "receiptNo": stored[1]}
        receipt = f"XF35-{time.strftime('%Y%m%d')}-{len(self.records) + 1:06d}"
        self.records[str(data_id)] = (data_type, receipt, dict(record))
        return result | {"receiptNo": receipt}

    # --- tasks --------------------------------------------------------------------------------

    def _tasks(self, query: Any) -> Response:
        if not isinstance(query, dict) or not isinstance(query.get("cursor"), str):
            raise _Refused("40001")
        size = query.get("pageSize")
        if not isinstance(size, int) or not 1 <= size <= MAX_RECORDS:
            raise _Refused("40001")
        cursor = query["cursor"]
        start = int(cursor) if cursor.isdigit() else 0
        page = [copy.deepcopy(t) for t in self.pending[start : start + size]]
        if not self._spoil:  # a spoiled page is refused whole: its tasks were not delivered
            for task in page:
                key = (str(task.get("taskId")), int(task.get("version") or 0))
                self.served[key] = self.served.get(key, 0) + 1
        if self.duplicate_in_page and page:
            page.insert(1, copy.deepcopy(page[0]))
        more = start + size < len(self.pending)
        document = {
            "total": len(self.pending),
            "hasMore": more,
            "nextCursor": str(start + size) if more else None,
            "tasks": page,
        }
        return self._sealed(document)

    def _sealed(self, document: Mapping[str, Any]) -> Response:
        payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        spoil = self._spoil.pop(0) if self._spoil else None
        if spoil == "json":
            payload = b"\xff not json"
        envelope = seal(self.keys, payload, str(self.clock()), secrets.token_hex(16))
        if spoil == "sign":
            envelope["sign"] = "0" * 64
        elif spoil == "decrypt":  # a ciphertext cut short: the sign verifies, decryption fails
            cut = base64.b64encode(base64.b64decode(envelope["encryptData"])[:-1]).decode()
            envelope["encryptData"] = cut
            envelope["sign"] = sign(self.keys, envelope["timestamp"], envelope["nonce"], cut)
        if self.upper_sign:
            envelope["sign"] = envelope["sign"].upper()
        return self._json({"code": "0", "msg": "成功", **envelope})

    def _ack(self, payload: Any) -> Response:
        acks = payload.get("acks") if isinstance(payload, dict) else None
        if payload.get("dataType") != "XF_TASK_ACK" or not isinstance(acks, list):
            raise _Refused("40001")
        for ack in acks:
            if not (
                isinstance(ack, dict)
                and isinstance(ack.get("taskId"), str)
                and isinstance(ack.get("version"), int)
                and _CASE_CODE.fullmatch(str(ack.get("caseCode")))
                and isinstance(ack.get("receivedAt"), str)
            ):
                raise _Refused("40001")
        for ack in acks:
            key = (ack["taskId"], ack["version"])
            before = len(self.pending)
            self.pending = [t for t in self.pending if (t.get("taskId"), t.get("version")) != key]
            if len(self.pending) < before:
                self.acked.append((ack["taskId"], ack["version"], ack["caseCode"]))
        return self._answer("0", {"accepted": len(acks), "rejected": 0, "results": []})


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except ValueError:
        raise _Refused("40001") from None
    if not isinstance(document, dict):
        raise _Refused("40001")
    return document


def _record_code(data_type: str, keys: tuple[str, ...], record: Any) -> str:
    """The per-record result code of one uploaded record (0, 40001 or 40011)."""
    if not isinstance(record, dict) or tuple(record) != keys:
        return "40001"
    if not isinstance(record["dataId"], str) or not re.fullmatch(r"[0-9a-f]{32}", record["dataId"]):
        return "40001"
    if record["provinceCode"] != "35" or record["unitType"] not in _UNIT_TYPES:
        return "40001" if record["provinceCode"] != "35" else "40011"
    if data_type == "XF_PENALTY":
        return _penalty_code(record)
    return _inspection_code(record)


def _penalty_code(record: dict[str, Any]) -> str:
    required = _words(
        "caseCode decisionNo partyName illegalAct illegalFacts penaltyBasis decisionDate orgName "
        "orgCreditCode orgAreaCode"
    )
    if any(not isinstance(record[k], str) or not record[k] for k in required):
        return "40001"
    if record["unitType"] == "90" and not record["idNo"]:
        return "40001"
    if record["unitType"] != "90" and not record["creditCode"]:
        return "40001"
    types = record["penaltyTypes"]
    if not isinstance(types, list) or not types:
        return "40001"
    if record["idType"] not in _ID_TYPES or any(t not in _PENALTY_TYPES for t in types):
        return "40011"
    return "0"


def _inspection_code(record: dict[str, Any]) -> str:
    required = ("inspectionNo", "unitName", "orgName", "orgCreditCode", "orgAreaCode")
    if any(not isinstance(record[k], str) or not record[k] for k in (*required, "checkTime")):
        return "40001"
    if not isinstance(record["inspectors"], list) or not record["inspectors"]:
        return "40001"
    if not isinstance(record["checkItems"], list):
        return "40001"
    if record["checkType"] not in _CHECK_TYPES or record["checkResult"] not in _CHECK_RESULTS:
        return "40011"
    if any(item.get("itemCode") not in _ITEMS for item in record["checkItems"]):
        return "40011"
    return "0"
