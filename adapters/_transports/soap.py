"""SOAP 1.1 mechanics shared by every SOAP adapter, written once.

``SoapService`` loads a WSDL **once** with zeep (lazily, on the first call, with DTDs, entities
and external references forbidden) and frames requests with ``Client.create_message``: SOAP
headers from the WSDL's ``soap:header`` parts, the ``Content-Type`` of SOAP 1.1 and the quoted
``SOAPAction`` of the operation. zeep only builds envelopes here: every call is sent through
``adapters._transports.http.HttpTransport`` (one HTTP stack, one place where httpx errors become
``TransientError``), never through zeep's own requests transport.

``SoapService.read`` reads an answer with the bus's hardened XML parser and returns the text of
the operation's result element (document/literal wrapped) or a ``SoapFault`` for the adapter to
classify; HTTP statuses without a SOAP answer become ``TransientError``/``PermanentError`` here.

Example::

    SERVICE = SoapService(Path(__file__).with_name("service.wsdl"), system="eco_env")
    call = SERVICE.request(
        "GetPenaltyDecision",
        path="/EnforceService/LawEnforceService.asmx",
        headers={"AuthHeader": {"UserName": "fjzf_esb", "Timestamp": "…", "Sign": "…"}},
        caseId=10187,
    )
    answer = SERVICE.read(transport.send(call), "GetPenaltyDecision")
    if isinstance(answer, SoapFault):
        ...  # the adapter decides: retry or not
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from adapters._transports.http import HttpTransport
from runner.adapter_api import (
    MessageRejected,
    Outgoing,
    PermanentError,
    RawMessage,
    TransientError,
    parse_xml,
)

__all__ = [
    "SOAP11_ENVELOPE",
    "SOAP11_HEADERS",
    "SOAP12_ENVELOPE",
    "SoapFault",
    "SoapService",
    "endpoint_path",
    "map_zeep_errors",
    "soap_body",
    "transport_for",
    "unexpected",
    "wsdl_port",
]

SOAP11_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENVELOPE = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}
"""HTTP headers of every SOAP 1.1 request (the SOAPAction is added per operation)."""
_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class SoapFault:
    """A SOAP 1.1 Fault as the peer sent it; the adapter decides whether it is worth a retry.

    ``code`` is the local part of ``faultcode`` (``Server``, ``Client``); ``label`` is the code
    the delivery outcomes use (``FAULT:Server``).
    """

    code: str
    string: str
    status: int

    @property
    def label(self) -> str:
        """``FAULT:<code>``, as the spec's outcome tables write it."""
        return f"FAULT:{self.code}"


@contextmanager
def map_zeep_errors(system: str) -> Iterator[None]:
    """Translate zeep's exceptions while loading a WSDL or building a request into ours.

    A request zeep cannot build (a missing or mistyped parameter) is ``PermanentError``:
    retrying the same values cannot help.
    """
    from zeep import exceptions  # noqa: PLC0415  (zeep loads only when a SOAP adapter is used)

    try:
        yield
    except (exceptions.Error, TypeError, ValueError) as exc:
        raise PermanentError(
            f"{system}: cannot build the SOAP request ({type(exc).__name__}: {exc})",
            code="SOAP_REQUEST",
        ) from exc


@dataclass(frozen=True)
class _Operation:
    action: str
    response: str
    result: str


@dataclass(frozen=True)
class _Loaded:
    client: Any
    proxy: Any
    operations: Mapping[str, _Operation]


class SoapService:
    """One WSDL's SOAP 1.1 port: frames requests, reads answers. Loads the WSDL once."""

    def __init__(self, wsdl: str | os.PathLike[str], *, system: str) -> None:
        self.wsdl = wsdl
        self.system = system
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Loaded:
        with self._lock:
            if self._loaded is None:
                with map_zeep_errors(self.system):
                    self._loaded = _load_wsdl(self.wsdl)
            return self._loaded

    @property
    def client(self) -> Any:
        """The ``zeep.Client`` of the WSDL (loaded on first use)."""
        return self._load().client

    def operation_names(self) -> list[str]:
        """The operations of the SOAP 1.1 port, sorted."""
        return sorted(self._load().operations)

    def soap_action(self, operation: str) -> str:
        """The ``soapAction`` the WSDL declares for ``operation``."""
        return self._operation(operation).action

    def _operation(self, operation: str) -> _Operation:
        operations = self._load().operations
        if operation not in operations:
            raise PermanentError(
                f"{self.system}: the WSDL has no operation '{operation}'; known: "
                f"{', '.join(sorted(operations))}",
                code="SOAP_REQUEST",
            )
        return operations[operation]

    def envelope(
        self,
        operation: str,
        headers: Mapping[str, Mapping[str, object]] | None = None,
        **params: object,
    ) -> etree._Element:
        """The request envelope of ``operation`` built by zeep (``create_message``)."""
        loaded = self._load()
        self._operation(operation)
        with map_zeep_errors(self.system):
            return loaded.client.create_message(  # type: ignore[no-any-return]
                loaded.proxy, operation, _soapheaders=dict(headers or {}), **params
            )

    def request(
        self,
        operation: str,
        *,
        path: str,
        headers: Mapping[str, Mapping[str, object]] | None = None,
        **params: object,
    ) -> Outgoing:
        """The call of ``operation``: UTF-8 envelope, SOAP 1.1 headers, quoted SOAPAction.

        ``headers`` maps each SOAP header part of the WSDL to its element values, e.g.
        ``{"AuthHeader": {"UserName": …}}``; ``params`` are the operation's parameters.
        """
        envelope = self.envelope(operation, headers, **params)
        body = _DECLARATION + etree.tostring(envelope, encoding="utf-8", xml_declaration=False)
        http_headers = dict(SOAP11_HEADERS)
        http_headers["SOAPAction"] = f'"{self.soap_action(operation)}"'
        return Outgoing(
            body=body, headers=http_headers, method="POST", path=path, operation=operation
        )

    def read(self, raw: RawMessage, operation: str) -> str | SoapFault:
        """The result string of ``operation``'s answer, or the Fault the peer sent.

        Raises ``TransientError`` for 429/502/503/504 and for a 5xx that is not a SOAP answer,
        ``PermanentError`` for an answer that is unreadable, hostile (a DTD) or not the
        operation's, and for a 4xx without a Fault.
        """
        body, status = soap_body(raw, self.system, operation, SOAP11_ENVELOPE)
        fault = body.find(f"{{{SOAP11_ENVELOPE}}}Fault")
        if fault is not None:
            return SoapFault(
                code=(fault.findtext("faultcode") or "").rpartition(":")[2],
                string=fault.findtext("faultstring") or "",
                status=status,
            )
        expected = self._operation(operation)
        wrapper = body.find(expected.response)
        if status != 200 or wrapper is None:
            raise unexpected(
                self.system, operation, status, f"no {expected.response} in the answer"
            )
        return wrapper.findtext(expected.result) or ""


def soap_body(
    raw: RawMessage, system: str, operation: str, envelope: str
) -> tuple[etree._Element, int]:
    """The ``Body`` of a SOAP answer (``envelope``: the SOAP 1.1 or 1.2 namespace) and its HTTP
    status, read with the bus's hardened parser.

    Raises ``TransientError`` for 429/502/503/504 (with ``Retry-After``) and for a 5xx that is
    not a SOAP answer, ``PermanentError`` for an answer that is unreadable, hostile (a DTD) or
    not a SOAP envelope of that version.
    """
    status = int(raw.meta.get("status", "200"))
    if status in _RETRY_STATUSES:
        raise TransientError(
            f"{system} {operation}: HTTP {status}",
            code=f"HTTP{status}",
            retry_after=_retry_after(raw),
        )
    try:
        root = parse_xml(raw.body)
    except MessageRejected as exc:
        if status >= 500 and exc.rule != "xml_dtd":
            raise TransientError(
                f"{system} {operation}: HTTP {status} without a SOAP answer",
                code=f"HTTP{status}",
            ) from exc
        raise PermanentError(
            f"{system} {operation}: unreadable answer: {exc.reason}", code=exc.rule
        ) from exc
    body = root.find(f"{{{envelope}}}Body")
    if root.tag != f"{{{envelope}}}Envelope" or body is None:
        version = "1.2" if envelope == SOAP12_ENVELOPE else "1.1"
        raise unexpected(system, operation, status, f"the answer is not a SOAP {version} envelope")
    return body, status


def unexpected(system: str, operation: str, status: int, why: str) -> Exception:
    """The error of an answer that is not the operation's: transient for a 5xx, else
    permanent."""
    reason = f"{system} {operation}: HTTP {status}: {why}"
    if status >= 500:
        return TransientError(reason, code=f"HTTP{status}")
    return PermanentError(reason, code=f"HTTP{status}" if status != 200 else "SOAP_ANSWER")


def _retry_after(raw: RawMessage) -> float | None:
    value = raw.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def wsdl_port(wsdl: str | os.PathLike[str], version: str) -> tuple[Any, Any, Any]:
    """``(client, proxy, binding)`` of the WSDL's first SOAP ``version`` (``"1.1"``, ``"1.2"``)
    port, parsed by zeep with DTDs, entities and external references forbidden."""
    from zeep import Client, Settings  # noqa: PLC0415  (zeep loads only when used)
    from zeep.wsdl.bindings.soap import Soap11Binding, Soap12Binding  # noqa: PLC0415

    kind = Soap12Binding if version == "1.2" else Soap11Binding
    settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    location = os.fspath(wsdl)
    client = Client(location, settings=settings)  # type: ignore[no-untyped-call]
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            if isinstance(port.binding, kind):
                return client, client.bind(service.name, port.name), port.binding
    raise PermanentError(f"{location}: the WSDL has no SOAP {version} port", code="SOAP_WSDL")


def _load_wsdl(wsdl: str | os.PathLike[str]) -> _Loaded:
    """Parse the WSDL with zeep and index the operations of its SOAP 1.1 port."""
    client, proxy, binding = wsdl_port(wsdl, "1.1")
    return _Loaded(client, proxy, _operations(binding))


def _operations(binding: Any) -> dict[str, _Operation]:
    operations: dict[str, _Operation] = {}
    for name, operation in binding.all().items():
        response = operation.output.body
        result = next(iter(response.type.elements))[1]
        operations[name] = _Operation(
            action=operation.soapaction or "",
            response=response.qname.text,
            result=result.qname.text,
        )
    return operations


def endpoint_path(endpoint: str) -> str:
    """The path (and query) of an endpoint URL: what ``Outgoing.path`` carries."""
    parts = urlsplit(endpoint)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def transport_for(
    system: str, endpoint: str, *, connect_timeout_s: float, read_timeout_s: float
) -> HttpTransport:
    """The HTTP transport of a SOAP endpoint: based at the endpoint's origin, so that the
    ``path`` of each ``Outgoing`` (``endpoint_path``) is sent unchanged."""
    parts = urlsplit(endpoint)
    return HttpTransport(
        system,
        f"{parts.scheme}://{parts.netloc}",
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
    )
