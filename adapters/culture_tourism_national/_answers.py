"""Reading the ministry's answers where the batch jobs must decide what to do next (README §5).

The mappings turn every answer into a delivery outcome for the record; the jobs also need the
``code``, the ``batchId`` and the ``status`` to go on, and classify what stops them:

====================================================  ==========================================
answer                                                raised
====================================================  ==========================================
HTTP 429/502/503/504; a 5xx that is not SOAP          ``TransientError``
Fault 1002 (timestamp), 1004 (nonce); faultcode Server ``TransientError`` (a fresh header next time)
Fault 1001 (signature), 1005 (appKey); faultcode Client ``PermanentError`` (check the secret)
not XML, a DTD, not the operation's answer            ``PermanentError``
====================================================  ==========================================

Result codes are returned to the job (``Answer.code``), which knows what each means for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapters._transports.soap import SOAP11_ENVELOPE
from runner.adapter_api import (
    MessageRejected,
    PermanentError,
    RawMessage,
    TransientError,
    parse_xml,
)

__all__ = ["RECORD_ERRORS", "RETRY_AFTER_S", "Answer", "read_answer", "record_reasons"]

_NS = "{http://exchange.whsc.mct.gov.cn/}"
_S = f"{{{SOAP11_ENVELOPE}}}"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_TRANSIENT_FAULTS = frozenset({"1002", "1004"})
RETRY_AFTER_S = {"3001": 1800, "4290": 300, "5000": 300}
"""How long to wait after a retryable result code (README §5: 30 min, 5 min, back-off from 5)."""
RECORD_ERRORS = {
    "E101": "必填项缺失",
    "E102": "代码值不在代码表中",
    "E103": "统一社会信用代码/身份证号校验失败",
    "E104": "日期格式错误",
    "E201": "案件身份码与案件不一致",
    "E204": "处罚种类与业务类别不匹配",
}
"""What a record error code of ``queryBatchResult`` means (README §3.2)."""


@dataclass(frozen=True)
class Answer:
    """The ``return`` of an answer: its ``code`` and the element itself."""

    code: str
    result: etree._Element

    def text(self, name: str) -> str:
        """The trimmed text of child ``name`` ("" when absent)."""
        return (self.result.findtext(name) or "").strip()


def _fault(body: etree._Element, operation: str) -> None:
    fault = body.find(f"{_S}Fault")
    if fault is None:
        return
    code = (fault.findtext(f"detail/{_NS}ExchangeFault/errorCode") or "").strip()
    faultcode = (fault.findtext("faultcode") or "").rpartition(":")[2]
    label = code or f"FAULT:{faultcode}"
    text = fault.findtext("faultstring") or ""
    reason = f"culture_tourism_national {operation}: SOAP Fault {label}: {text}"
    if code in _TRANSIENT_FAULTS or (not code and faultcode == "Server"):
        raise TransientError(reason, code=label)
    raise PermanentError(reason, code=label)


def read_answer(raw: RawMessage, operation: str) -> Answer:
    """The ``return`` of ``operation``'s answer, or the error the answer stands for."""
    status = int(raw.meta.get("status") or "200")
    where = f"culture_tourism_national {operation}"
    if status in _RETRY_STATUSES:
        raise TransientError(f"{where}: HTTP {status}", code=f"HTTP{status}")
    try:
        root = parse_xml(raw.body)
    except MessageRejected as exc:
        if status >= 500 and exc.rule != "xml_dtd":
            raise TransientError(
                f"{where}: HTTP {status} without a SOAP answer", code=f"HTTP{status}"
            ) from None
        raise PermanentError(f"{where}: unreadable answer: {exc.reason}", code=exc.rule) from None
    body = root.find(f"{_S}Body")
    if root.tag != f"{_S}Envelope" or body is None:
        raise PermanentError(f"{where}: the answer is not a SOAP 1.1 envelope", code="SOAP_ANSWER")
    _fault(body, operation)
    result = body.find(f"{_NS}{operation}Response/return")
    if result is None:
        error = TransientError if status >= 500 else PermanentError
        raise error(f"{where}: HTTP {status}: no {operation}Response/return", code="SOAP_ANSWER")
    return Answer((result.findtext("code") or "").strip(), result)


def record_reasons(answer: Answer) -> dict[tuple[str, str], str]:
    """``(recordType, recordId)`` → why the ministry refused that record: its type, id, code
    and the code's meaning (README §3.2). ``errorMsg`` is left out: it may quote the value it
    refused, an ID number among them."""
    reasons: dict[tuple[str, str], str] = {}
    for error in answer.result.iterfind("errors/error"):
        kind = (error.findtext("recordType") or "").strip()
        record_id = (error.findtext("recordId") or "").strip()
        code = (error.findtext("errorCode") or "").strip()
        meaning = RECORD_ERRORS.get(code, "unknown record error code")
        reasons[(kind, record_id)] = f"{kind} {record_id[:60]}: {code} {meaning}"
    return reasons
