"""drug_admin's answers as our errors (README §5), for the poller; mappings read answers alone.

=====================================================================  ==================
answer                                                                 raised
=====================================================================  ==================
Fault E1003 (MessageExpired), E5003 (ServiceBusy, ``RetryAfterSeconds``),  ``TransientError``
E5000 (InternalError); a ``Receiver`` Fault without detail; HTTP 503
(maintenance), 429/502/504, a 5xx without a SOAP answer
Fault E1001, E1002, E2001, E2002; a ``Sender`` Fault without detail     ``PermanentError``
``ResultCode`` ≠ 0 (3001: range over 31 days)                           ``ResultCodeError``
a DTD, malformed XML, not the operation's answer                       ``PermanentError``
=====================================================================  ==================
"""

from __future__ import annotations

from lxml import etree

from adapters._transports.soap12 import Soap12Fault
from adapters.drug_admin._calls import NAMESPACE, OPERATIONS, SERVICE
from runner.adapter_api import PermanentError, RawMessage, TransientError

__all__ = ["RETRYABLE_FAULTS", "ResultCodeError", "error_for_fault", "response_element"]

RETRYABLE_FAULTS = frozenset({"E1003", "E5000", "E5003"})
"""Fault ``ErrorCode``s worth a retry (with a new token; after ``RetryAfterSeconds``)."""


class ResultCodeError(PermanentError):
    """A response element with ``ResultCode`` ≠ 0 (``code``): nothing was returned."""


def error_for_fault(fault: Soap12Fault, operation: str) -> TransientError | PermanentError:
    """The error a Fault stands for (README §5); the reason names codes, never data."""
    reason = (
        f"drug_admin {operation}: SOAP Fault {fault.code}/{fault.subcode} {fault.label}: "
        f"{fault.reason}"
    )
    retry = fault.label in RETRYABLE_FAULTS or (
        fault.error_code is None and fault.code == "Receiver"
    )
    if retry:
        return TransientError(reason, code=fault.label, retry_after=fault.retry_after_s)
    return PermanentError(reason, code=fault.label)


def response_element(raw: RawMessage, message_id: str) -> etree._Element:
    """The response element of a successful answer to ``message_id``'s operation."""
    operation = OPERATIONS[message_id]
    answer = SERVICE.read(raw, operation)
    if isinstance(answer, Soap12Fault):
        raise error_for_fault(answer, operation)
    code = (answer.findtext(f"{{{NAMESPACE}}}ResultCode") or "").strip()
    if code != "0":
        message = (answer.findtext(f"{{{NAMESPACE}}}ResultMsg") or "").strip()
        raise ResultCodeError(
            f"drug_admin {operation}: ResultCode {code or '(none)'}: {message}", code=code
        )
    return answer
