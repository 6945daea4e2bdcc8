"""SOAP 1.2 mechanics shared by every SOAP 1.2 adapter: the twin of ``soap.SoapService``.

- ``Soap12Service`` loads the WSDL **once** with zeep (lazily, DTDs, entities and external
  references forbidden), indexes the operations of its SOAP 1.2 port and builds a request
  envelope with ``Client.create_message`` (zeep checks the parameters against the XSD: a missing
  required element is a ``PermanentError``); a zeep WS-Security token is applied to it.
- ``request`` writes the envelope with the prefixes and the indentation of the spec's samples
  (``soap12``, ``jc``; ``wsse``/``wsu`` on ``Security``) and the SOAP 1.2 ``Content-Type`` with
  the operation's ``action`` parameter (there is no ``SOAPAction`` header in SOAP 1.2).
- ``read`` reads an answer with the bus's hardened parser: the operation's response element, or
  a ``Soap12Fault`` (Code, Subcode, Reason, detail ``ErrorCode``/``RetryAfterSeconds``);
  HTTP 429/502/503/504 and a 5xx without a SOAP answer are ``TransientError``.

The WSDL's ``soap12:address`` is never used: calls go to the configured endpoint through
``adapters._transports.http.HttpTransport`` (a live ``?wsdl`` often names an internal address).
The answer's status, parsing and envelope checks are ``soap.soap_body``'s, shared with SOAP 1.1.

Example::

    SERVICE = Soap12Service(WSDL, system="drug_admin", prefixes={"soap12": SOAP12_ENVELOPE})
    call = SERVICE.request("QueryPenalties", path="/ws/penalty", token=username_token, page=1)
    answer = SERVICE.read(transport.send(call), "QueryPenalties")
    if isinstance(answer, Soap12Fault):
        ...  # the adapter decides: retry or not
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from adapters._transports.soap import (
    SOAP12_ENVELOPE,
    map_zeep_errors,
    soap_body,
    unexpected,
    wsdl_port,
)
from runner.adapter_api import Outgoing, PermanentError, RawMessage

__all__ = [
    "SOAP12_CONTENT_TYPE",
    "SOAP12_ENVELOPE",
    "WSSE",
    "WSU",
    "Soap12Fault",
    "Soap12Service",
    "reprefix",
]

SOAP12_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
"""The WS-Security namespace (``wsse``)."""
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
"""The WS-Security utility namespace (``wsu``)."""
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class Soap12Fault:
    """A SOAP 1.2 Fault as the peer sent it; the adapter decides what it means.

    ``code`` is the local name of ``Code/Value`` (``Sender``, ``Receiver``), ``subcode`` that of
    ``Subcode/Value`` (``FailedAuthentication``, ``ServiceBusy``); ``error_code`` and
    ``retry_after_s`` come from the service's ``ServiceFaultDetail`` when present.
    """

    code: str
    subcode: str
    reason: str
    error_code: str | None
    retry_after_s: int | None
    status: int

    @property
    def label(self) -> str:
        """The delivery-outcome code: the detail's ``ErrorCode``, else ``FAULT:<code>``."""
        return self.error_code or f"FAULT:{self.code}"


@dataclass(frozen=True)
class _Loaded:
    client: Any
    proxy: Any
    actions: Mapping[str, str]
    responses: Mapping[str, str]


def _local(text: str | None) -> str:
    return (text or "").strip().rpartition(":")[2]


class Soap12Service:
    """One WSDL's SOAP 1.2 port: builds requests, reads answers. Loads the WSDL once."""

    def __init__(
        self,
        wsdl: str | os.PathLike[str],
        *,
        system: str,
        prefixes: Mapping[str, str],
    ) -> None:
        self.wsdl = wsdl
        self.system = system
        self.prefixes = dict(prefixes)
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Loaded:
        with self._lock:
            if self._loaded is None:
                with map_zeep_errors(self.system):
                    self._loaded = _load_wsdl(self.wsdl)
            return self._loaded

    def operation_names(self) -> list[str]:
        """The operations of the SOAP 1.2 port, sorted."""
        return sorted(self._load().actions)

    def action(self, operation: str) -> str:
        """The ``soapAction`` the WSDL declares for ``operation``."""
        loaded = self._load()
        if operation not in loaded.actions:
            raise PermanentError(
                f"{self.system}: the WSDL has no operation '{operation}'; known: "
                f"{', '.join(sorted(loaded.actions))}",
                code="SOAP_REQUEST",
            )
        return loaded.actions[operation]

    def envelope(self, operation: str, token: Any, **params: object) -> etree._Element:
        """The request envelope of ``operation`` built by zeep, with ``token`` applied."""
        self.action(operation)
        loaded = self._load()
        with map_zeep_errors(self.system):
            envelope = loaded.client.create_message(loaded.proxy, operation, **params)
            if token is not None:
                token.apply(envelope, {})
        return reprefix(envelope, self.prefixes)

    def request(self, operation: str, *, path: str, token: Any, **params: object) -> Outgoing:
        """The call of ``operation``: UTF-8, declaration, two-space indent, SOAP 1.2 headers."""
        envelope = self.envelope(operation, token, **params)
        body = _DECLARATION + etree.tostring(envelope, encoding="utf-8", pretty_print=True)
        headers = {"Content-Type": f'{SOAP12_CONTENT_TYPE}; action="{self.action(operation)}"'}
        return Outgoing(body=body, headers=headers, method="POST", path=path, operation=operation)

    def read(self, raw: RawMessage, operation: str) -> etree._Element | Soap12Fault:
        """The response element of ``operation``'s answer, or the Fault the peer sent.

        Raises ``TransientError`` for 429/502/503/504 and a 5xx that is not a SOAP answer,
        ``PermanentError`` for an answer that is unreadable, hostile (a DTD) or not the
        operation's.
        """
        body, status = soap_body(raw, self.system, operation, SOAP12_ENVELOPE)
        fault = body.find(f"{{{SOAP12_ENVELOPE}}}Fault")
        if fault is not None:
            return _fault(fault, status)
        self.action(operation)
        wrapper = body.find(self._load().responses[operation])
        if status != 200 or wrapper is None:
            raise unexpected(
                self.system, operation, status, f"no {operation}Response in the answer"
            )
        return wrapper


def _fault(fault: etree._Element, status: int) -> Soap12Fault:
    env = f"{{{SOAP12_ENVELOPE}}}"
    detail = fault.find(f"{env}Detail")
    error_code = retry = None
    if detail is not None:
        error_code = (detail.findtext(".//{*}ErrorCode") or "").strip() or None
        text = (detail.findtext(".//{*}RetryAfterSeconds") or "").strip()
        retry = int(text) if text.isdigit() else None
    return Soap12Fault(
        code=_local(fault.findtext(f"{env}Code/{env}Value")),
        subcode=_local(fault.findtext(f"{env}Code/{env}Subcode/{env}Value")),
        reason=(fault.findtext(f"{env}Reason/{env}Text") or "").strip(),
        error_code=error_code,
        retry_after_s=retry,
        status=status,
    )


def reprefix(element: etree._Element, prefixes: Mapping[str, str]) -> etree._Element:
    """A copy of ``element`` whose namespaces use ``prefixes`` (prefix → URI), declared on the
    root; WS-Security's ``wsse``/``wsu`` are declared on ``Security``, as the samples do."""
    root = etree.Element(element.tag, nsmap=dict(prefixes))
    _copy(element, root)
    return root


def _copy(source: etree._Element, target: etree._Element) -> None:
    for name, value in source.attrib.items():
        target.set(name, value)
    target.text = source.text
    for child in source:
        if not isinstance(child.tag, str):
            continue
        nsmap = {"wsse": WSSE, "wsu": WSU} if child.tag == f"{{{WSSE}}}Security" else None
        copy = etree.SubElement(target, child.tag, nsmap=nsmap)
        _copy(child, copy)


def _load_wsdl(wsdl: str | os.PathLike[str]) -> _Loaded:
    """Parse the WSDL with zeep and index the operations of its SOAP 1.2 port."""
    client, proxy, binding = wsdl_port(wsdl, "1.2")
    operations = binding.all()
    return _Loaded(
        client,
        proxy,
        {name: op.soapaction or "" for name, op in operations.items()},
        {name: op.output.body.qname.text for name, op in operations.items()},
    )
