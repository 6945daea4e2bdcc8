"""The bus's answer to a YJZF push: the ``<Ack>`` document (README §2.5, §5; ``SPEC.answer``).

=================  ======  =====  ============================================================
verdict            HTTP    code   reason
=================  ======  =====  ============================================================
accepted           200     0      (empty)
duplicate          200     1      ``重复报文，已于<first time>接收`` (time when this process saw it)
duplicate*         200     2      ``msgId重复但报文内容不同`` (same msgId, another body, §2.5)
rejected           200     2      ``<element> <rule in Chinese>`` (``BJCDW/TYSHXYDM 统一…错误``)
unauthorized       401     2      which header or check failed
unauthorized       401     9      ``timestamp_skew``: re-sign and resend
too large          413     2      (rule ``too_large``, from verify or prepare)
unavailable        200     9      ``系统繁忙，请稍后重发``
=================  ======  =====  ============================================================

Reasons are built from the element and the rule only, never from a value, so an ID number can
never reach an Ack. The bytes are exactly the spec's samples ``ack-<code>.xml``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol
from xml.sax.saxutils import escape

from adapters.emergency._wire import msg_id_of
from runner.adapter_api import (
    AdapterConfig,
    DigestStore,
    MessageRejected,
    RawMessage,
    WebhookAnswer,
    WebhookVerdict,
)
from schemas.timeutil import SHANGHAI

__all__ = [
    "CONTENT_TYPE",
    "AckMemory",
    "Answerer",
    "DigestMemory",
    "StoredMemory",
    "answer",
    "render_ack",
    "wire_field",
    "wire_reason",
]

CONTENT_TYPE = "text/xml; charset=UTF-8"
BUSY = "系统繁忙，请稍后重发"
CONFLICT = "msgId重复但报文内容不同"

_AGENCY = {"name": "JGMC", "uscc": "JGDM", "division_code": "XZQHDM"}


def _party(element: str, root: str, kind: str, name: str, address: str) -> dict[str, str]:
    """The wire names of one party element (``BJCDW`` or ``DSR``, README §3.2, §3.3)."""
    wires = {
        "kind": kind,
        "name": name,
        "uscc": "TYSHXYDM",
        "legal_representative": "FDDBR",
        "id_type": "ZJLX",
        "id_number": "ZJHM",
        "address": address,
        "division_code": "XZQHDM",
    }
    out = {f"payload.{root}.{field}": f"{element}/{wire}" for field, wire in wires.items()}
    out[f"payload.{root}"] = element
    return out


_COMMON = {
    "source_message_id": "Head/msgId",
    **{f"payload.agency.{field}": f"ZFJG/{wire}" for field, wire in _AGENCY.items()},
    "payload.agency": "ZFJG",
}
WIRE_FIELDS: dict[str, dict[str, str]] = {
    "safety_inspection": {
        **_COMMON,
        **_party("BJCDW", "target", "DWLX", "DWMC", "DWDZ"),
        "payload.inspection_id": "JCBH",
        "payload.task_id": "RWBH",
        "payload.kind": "JCFS",
        "payload.officers": "ZFRY",
        "payload.officers.name": "ZFRY/RY/XM",
        "payload.officers.certificate_no": "ZFRY/RY/ZFZH",
        "payload.planned_date": "JHRQ",
        "payload.inspected_at": "JCSJ",
        "payload.items": "JCXM",
        "payload.items.code": "JCXM/XM/XMDM",
        "payload.items.name": "JCXM/XM/XMMC",
        "payload.result": "JCJG",
        "payload.findings": "YHMS",
        "inspected_at": "JCSJ",
        "registered_at": "LARQ",
        "case_code": "LABH",
    },
    "penalty_decision": {
        **_COMMON,
        **_party("DSR", "party", "DSRLX", "DSRMC", "DZ"),
        "payload.decision_no": "JDSWH",
        "payload.case_code": "SFM",
        "payload.violation_type": "WFXW",
        "payload.facts": "WFSS",
        "payload.legal_basis": "WFYJ",
        "payload.penalty_basis": "CFYJ",
        "payload.penalty_kinds": "CFZL",
        "payload.fine_amount_yuan": "FKJE",
        "payload.confiscated_amount_yuan": "MSJE",
        "payload.license_affected": "XKZ",
        "payload.decided_at": "JDRQ",
        "payload.publicity_until": "GSJZRQ",
        "decided_at": "JDRQ",
        "registered_at": "LARQ",
        "case_code": "SFM",
    },
}
"""Per message type: the canonical field (or mapping variable) → the wire element (README §3)."""

_RULE_FIELDS = {"party_uscc_required": "TYSHXYDM", "party_natural_uscc": "TYSHXYDM"}
"""Model-level rules that concern one element of the party."""

RULE_TEXTS = {
    "required": "必填项缺失",
    "missing": "必填项缺失",
    "too_short": "必填项缺失",
    "party_uscc_required": "必填项缺失",
    "unknown_code": "未知代码",
    "uscc_check": "统一社会信用代码校验位错误",
    "uscc_length": "统一社会信用代码格式错误",
    "uscc_charset": "统一社会信用代码格式错误",
    "uscc_format": "统一社会信用代码格式错误",
    "uscc_placeholder": "统一社会信用代码格式错误",
    "string_pattern_mismatch": "格式错误",
    "id_number_length": "证件号码格式错误",
    "id_number_format": "证件号码格式错误",
    "id_number_check": "证件号码校验位错误",
    "id_number_birth_date": "证件号码出生日期错误",
    "id_number_region": "证件号码地区码错误",
    "division_code": "行政区划代码无效",
    "date_format": "日期格式错误",
    "datetime_format": "时间格式错误",
    "amount_format": "金额格式错误",
    "money_precision": "金额格式错误",
    "money_range": "金额格式错误",
    "legal_basis_format": "未包含《法规名》",
    "case_code_format": "案件身份码格式错误",
    "case_code_input": "案件身份码无法生成",
    "format": "格式错误",
    "msg_id_format": "报文标识格式错误",
    "wrong_message_type": "报文类型与报文体不符",
    "schema": "报文结构不符合yjzf.xsd",
    "malformed_xml": "XML格式错误",
    "xml_dtd": "不允许DTD或实体声明",
    "unsupported_encoding": "不支持的字符编码",
    "undecodable": "字符编码错误",
    "too_large": "报文超过2MiB",
    "missing_header": "缺少签名请求头",
    "bad_header": "签名请求头格式错误",
    "unknown_app_id": "AppId未授权",
    "signature_mismatch": "签名校验失败",
    "timestamp_skew": "时间戳超出允许范围",
    "nonce_replayed": "Nonce重复使用",
}
"""Rule → the Chinese text an Ack reason gives for it (README §5)."""
_WHOLE_DOCUMENT = frozenset({"unsupported_encoding", "undecodable", "malformed_xml", "xml_dtd"})
_INDEX = re.compile(r"\[\d+\]")


def wire_field(message_id: str, field: str | None, rule: str = "") -> str:
    """The wire element a rejection concerns (``payload.target.uscc`` → ``BJCDW/TYSHXYDM``);
    a field that is already a wire name (``Head/msgId``) or unknown is returned as it is."""
    if not field:
        return ""
    plain = _INDEX.sub("", field)
    table = WIRE_FIELDS.get(message_id, {})
    element = table.get(plain, plain)
    if rule in _RULE_FIELDS and element in ("BJCDW", "DSR"):
        element = f"{element}/{_RULE_FIELDS[rule]}"
    return element


def wire_reason(message_id: str, error: MessageRejected) -> str:
    """The Ack reason of a rejection: ``<element> <rule text>``, in Chinese, value-free."""
    text = RULE_TEXTS.get(error.rule) or f"报文无效（{error.rule}）"
    if error.rule in _WHOLE_DOCUMENT:
        return text
    element = wire_field(message_id, error.field, error.rule)
    return f"{element} {text}" if element and element not in ("body", "encoding") else text


def render_ack(msg_id: str, code: str, reason: str, at: dt.datetime) -> bytes:
    """The ``<Ack>`` bytes, laid out exactly as the spec's samples."""
    ack_time = at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    msg = f"<msgId>{escape(msg_id)}</msgId>" if msg_id else "<msgId/>"
    why = f"<reason>{escape(reason)}</reason>" if reason else "<reason/>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Ack>\n'
        f"  {msg}\n  <code>{code}</code>\n  {why}\n  <ackTime>{ack_time}</ackTime>\n</Ack>\n"
    ).encode()


class DigestMemory(Protocol):
    """msgId → (digest of the body first accepted with it, when): what tells a resend (same
    body: code 1, with the first acceptance time) from a msgId reused for another body (code 2).
    The runtime's duplicate verdict looks at the msgId only, and knows neither."""

    def accepted(self, msg_id: str, digest: str, at: dt.datetime) -> None:
        """Remember that ``msg_id`` with body ``digest`` was accepted at ``at`` (the first
        body recorded wins)."""
        ...

    def first(self, msg_id: str) -> tuple[str, dt.datetime] | None:
        """(digest, accepted at) of ``msg_id``, None if none was recorded."""
        ...


class AckMemory:
    """``DigestMemory`` in this process only (bounded, lost on restart): the fallback while no
    durable store is bound (``Answerer.use_store``); after a restart an unknown msgId is taken
    as a plain resend."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._accepted: OrderedDict[str, tuple[str, dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def accepted(self, msg_id: str, digest: str, at: dt.datetime) -> None:
        """Remember that ``msg_id`` with body ``digest`` was accepted at ``at``."""
        with self._lock:
            self._accepted.setdefault(msg_id, (digest, at))
            self._accepted.move_to_end(msg_id)
            while len(self._accepted) > self._capacity:
                self._accepted.popitem(last=False)

    def first(self, msg_id: str) -> tuple[str, dt.datetime] | None:
        """(digest, accepted at) of ``msg_id``, None if this process never accepted it."""
        with self._lock:
            return self._accepted.get(msg_id)


class StoredMemory:
    """``DigestMemory`` on a durable store: survives restarts, shared by every bus process, kept
    as long as the store keeps it (README §2.5: at least 400 days; the bus never deletes)."""

    def __init__(self, store: DigestStore, system: str = "emergency") -> None:
        self.store = store
        self.system = system

    def accepted(self, msg_id: str, digest: str, at: dt.datetime) -> None:
        """Record the body ``msg_id`` was accepted with (an earlier record wins)."""
        self.store.record(self.system, msg_id, digest, at)

    def first(self, msg_id: str) -> tuple[str, dt.datetime] | None:
        """(digest, accepted at) of ``msg_id`` from the store."""
        found = self.store.first(self.system, msg_id)
        return None if found is None else (found.digest, found.accepted_at)


class Answerer:
    """``SPEC.answer``: the Ack for one verdict (table in the module doc).

    ``clock`` gives the ``ackTime`` (tests fix it); ``memory`` the accepted msgIds' body
    digests: in this process only (``AckMemory``) until a durable store is bound with
    ``use_store``.
    """

    def __init__(
        self,
        clock: Callable[[], dt.datetime] | None = None,
        memory: DigestMemory | None = None,
    ) -> None:
        self.clock = clock or (lambda: dt.datetime.now(SHANGHAI))
        self.memory: DigestMemory = memory or AckMemory()

    def use_store(self, store: DigestStore | None) -> None:
        """Keep the body digests in ``store`` (durable, shared by every process) from now on;
        None: in this process again (the endpoint that bound the store stopped)."""
        self.memory = StoredMemory(store) if store is not None else AckMemory()

    def __call__(
        self,
        message_id: str,
        raw: RawMessage,
        verdict: WebhookVerdict,
        error: MessageRejected | None,
        _config: AdapterConfig,
    ) -> WebhookAnswer:
        """The HTTP answer with its ``<Ack>`` for ``verdict``."""
        now = self.clock()
        msg_id = msg_id_of(raw.body)
        status, code, reason = self._outcome(message_id, raw, verdict, error, msg_id, now)
        return WebhookAnswer(status, render_ack(msg_id, code, reason, now), CONTENT_TYPE)

    def _outcome(
        self,
        message_id: str,
        raw: RawMessage,
        verdict: WebhookVerdict,
        error: MessageRejected | None,
        msg_id: str,
        now: dt.datetime,
    ) -> tuple[int, str, str]:
        rule = error.rule if error is not None else ""
        if rule == "too_large":
            return 413, "2", RULE_TEXTS["too_large"]
        if verdict == "accepted":
            self.memory.accepted(msg_id, hashlib.sha256(raw.body).hexdigest(), now)
            return 200, "0", ""
        if verdict == "duplicate":
            return self._duplicate(msg_id, raw.body)
        if verdict == "unavailable":
            return 200, "9", BUSY
        reason = wire_reason(message_id, error) if error is not None else "报文无效"
        if verdict == "unauthorized":
            return 401, "9" if rule == "timestamp_skew" else "2", reason
        return 200, "2", reason

    def _duplicate(self, msg_id: str, body: bytes) -> tuple[int, str, str]:
        first = self.memory.first(msg_id)
        if first is None:
            return 200, "1", "重复报文"
        digest, at = first
        if digest != hashlib.sha256(body).hexdigest():
            return 200, "2", CONFLICT
        return 200, "1", f"重复报文，已于{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}接收"


answer = Answerer()
"""The answerer ``SPEC.answer`` uses: the real clock and this process's accepted msgIds."""
