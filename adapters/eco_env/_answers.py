"""Reading eco_env's answers: the result document inside the SOAP string, and errors (§3.1, §6).

Only the poller needs this (the mappings read answers on their own). An answer is either a
result document (``<CaseList>``, ``<PenaltyDecision>``, ``<Result>``), an ``<Error>`` document
or a SOAP Fault. ``result_document`` returns the first and turns the others into our errors:

=========================================================  ==================
answer                                                     raised
=========================================================  ==================
``<Error>`` 9001; Fault "Timeout expired" / "未将对象…"      ``TransientError``
HTTP 429/502/503/504, a 5xx without a SOAP answer          ``TransientError``
``<Error>`` 1001-1005, 2002; other Faults ("身份验证失败")    ``PermanentError``
a DTD, malformed XML, not the operation's answer            ``PermanentError``
=========================================================  ==================
"""

from __future__ import annotations

from lxml import etree

from adapters._transports.soap import SoapFault
from adapters.eco_env._calls import SERVICE
from runner.adapter_api import (
    MessageRejected,
    PermanentError,
    RawMessage,
    TransientError,
    parse_xml,
)

__all__ = [
    "RETRYABLE_ERROR_CODES",
    "RETRYABLE_FAULTS",
    "ErrorAnswer",
    "error_for_fault",
    "result_document",
]

RETRYABLE_ERROR_CODES = frozenset({"9001"})
"""``<Error>`` codes worth a retry (数据库繁忙)."""
RETRYABLE_FAULTS = ("Timeout expired", "未将对象引用设置到对象的实例")
"""Fault strings of a database timeout or a server bug: worth a retry."""


class ErrorAnswer(PermanentError):
    """An ``<Error>`` result document with a code that retrying cannot fix (``code``)."""


def error_for_fault(fault: SoapFault, operation: str) -> TransientError | PermanentError:
    """The error a Fault stands for: transient for a database timeout or a server bug."""
    reason = f"eco_env {operation}: SOAP Fault {fault.code}: {fault.string}"
    if any(marker in fault.string for marker in RETRYABLE_FAULTS):
        return TransientError(reason, code=fault.label)
    return PermanentError(reason, code=fault.label)


def _error_for_document(root: etree._Element, operation: str) -> TransientError | ErrorAnswer:
    code = (root.findtext("Code") or "").strip()
    reason = f"eco_env {operation}: <Error> {code}: {(root.findtext('Message') or '').strip()}"
    if code in RETRYABLE_ERROR_CODES:
        return TransientError(reason, code=code)
    return ErrorAnswer(reason, code=code)


def result_document(raw: RawMessage, operation: str, expected: str) -> etree._Element:
    """The result document (root ``expected``) of an answer to ``operation``.

    Raises ``ErrorAnswer`` (``.code`` = the ``<Error>`` code) for a permanent ``<Error>``, and
    ``TransientError``/``PermanentError`` for everything else that is not a result.
    """
    answer = SERVICE.read(raw, operation)
    if isinstance(answer, SoapFault):
        raise error_for_fault(answer, operation)
    try:
        root = parse_xml(answer)
    except MessageRejected as exc:
        raise PermanentError(
            f"eco_env {operation}: result document refused: {exc.reason}", code=exc.rule
        ) from exc
    if root.tag == "Error":
        raise _error_for_document(root, operation)
    if root.tag != expected:
        raise PermanentError(
            f"eco_env {operation}: expected <{expected}>, got <{root.tag}>", code="SOAP_ANSWER"
        )
    return root
