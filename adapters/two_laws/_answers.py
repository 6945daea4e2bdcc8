"""Reading two_laws answers for the poller (README §6.2): the notice page, or our errors.

Only the poller needs this (the mappings read answers on their own):

=============================================================  ==================
answer                                                         raised
=============================================================  ==================
``code`` 1002, 9001, 9002; Fault ``Server`` (e.g. 访问频率超限)   ``TransientError``
HTTP 429/502/503/504, a 5xx without a SOAP answer              ``TransientError``
``code`` 1001, 1003, any other; Fault ``Client``                ``PermanentError``
a DTD, malformed XML, not the operation's answer               ``PermanentError``
=============================================================  ==================

``.code`` is the result code (``1003``) or ``FAULT:<faultcode>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapters._transports.soap import SoapFault
from adapters.two_laws._wire import NAMESPACE, SERVICE
from runner.adapter_api import (
    MessageRejected,
    PermanentError,
    RawMessage,
    TransientError,
    parse_xml,
)

__all__ = ["RETRYABLE_CODES", "NoticePage", "read_page"]

RETRYABLE_CODES = frozenset({"1002", "9001", "9002"})
"""Result codes worth a retry: 时间戳超出允许范围 (new timestamp), 系统繁忙, 数据库维护中."""
_OPERATION = "fetchSupervisionNotices"
_Q = f"{{{NAMESPACE}}}"


@dataclass(frozen=True)
class NoticePage:
    """What the poller needs of one page: ``maxSeq``, ``hasMore`` and each notice's ``seq``
    (None when it is not a whole number: the mapping rejects that notice)."""

    max_seq: int
    has_more: bool
    seqs: tuple[int | None, ...]


def _fault_error(fault: SoapFault) -> TransientError | PermanentError:
    reason = f"two_laws {_OPERATION}: SOAP Fault {fault.code}: {fault.string}"
    if fault.code == "Server":
        return TransientError(reason, code=fault.label)
    return PermanentError(reason, code=fault.label)


def _integer(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(value) if value.isdigit() else None


def _result(raw: RawMessage) -> etree._Element:
    answer = SERVICE.read(raw, _OPERATION)
    if isinstance(answer, SoapFault):
        raise _fault_error(answer)
    try:
        root = parse_xml(raw.body, "gbk")
    except MessageRejected as exc:  # SERVICE.read parsed it already; kept for safety
        raise PermanentError(f"two_laws {_OPERATION}: {exc.reason}", code=exc.rule) from exc
    result = root.find(f".//{_Q}fetchSupervisionNoticesResponse/{_Q}result")
    if result is None:
        raise PermanentError(f"two_laws {_OPERATION}: no result", code="SOAP_ANSWER")
    return result


def read_page(raw: RawMessage) -> NoticePage:
    """The notice page of an answer; every other answer raises (see the module table)."""
    result = _result(raw)
    code = (result.findtext(f"{_Q}code") or "").strip()
    if code != "0":
        reason = f"two_laws {_OPERATION}: code {code}: {(result.findtext(f'{_Q}message') or '')}"
        if code in RETRYABLE_CODES:
            raise TransientError(reason, code=code)
        raise PermanentError(reason, code=code)
    max_seq = _integer(result.findtext(f"{_Q}maxSeq"))
    more = (result.findtext(f"{_Q}hasMore") or "").strip().lower()
    if max_seq is None or more not in ("true", "false", "1", "0"):
        raise PermanentError(
            f"two_laws {_OPERATION}: maxSeq or hasMore is missing or malformed",
            code="SOAP_ANSWER",
        )
    notices = result.iterfind(f"{_Q}notices/{_Q}notice")
    seqs = tuple(_integer(notice.findtext(f"{_Q}seq")) for notice in notices)
    return NoticePage(max_seq=max_seq, has_more=more in ("true", "1"), seqs=seqs)
