"""Shared pieces of SOAP 1.1 simulators of legacy .NET ASMX services.

``AsmxSimulator`` runs on ``HttpSimulator`` (so HTTP faults come with it) and behaves like an
ASMX endpoint: ``GET <path>?WSDL`` serves the WSDL with its ``soap:address`` rewritten to the
simulator's own URL (so zeep can load it from there), ``POST <path>`` dispatches on the quoted
``SOAPAction`` to the subclass's operations, which return the result string; the answer is
written byte for byte as ASMX writes it. ``xml_serializer_document`` writes a result document
as .NET ``XmlSerializer`` does (utf-16 declaration, CRLF, ``xsi:nil``), ``asmx_response`` and
``soap_fault`` the envelopes around it.

Example::

    class Echo(AsmxSimulator):
        def operations(self):
            return {"Echo": lambda call: xml_serializer_document("Echo", [("Text", "hi")])}

    with Echo(wsdl=WSDL_BYTES, path="/Echo.asmx", namespace="http://tempuri.org/") as sim:
        ...  # sim.endpoint, sim.wsdl_url
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

from adapters._simulators.http import Request, Response, ServedSimulator
from runner.adapter_api import MessageRejected, parse_xml

__all__ = [
    "SOAP11_ENVELOPE",
    "AsmxSimulator",
    "Cdata",
    "Node",
    "Operation",
    "SoapCall",
    "SoapFaultAnswer",
    "asmx_response",
    "asmx_string",
    "read_soap_call",
    "rewrite_wsdl_address",
    "soap_fault",
    "xml_serializer_document",
]

SOAP11_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD = "http://www.w3.org/2001/XMLSchema"
_NAMESPACES = f'xmlns:xsi="{_XSI}" xmlns:xsd="{_XSD}"'
_XML_TYPE = {"Content-Type": "text/xml; charset=utf-8"}


@dataclass(frozen=True)
class Cdata:
    """Element text that XmlSerializer's caller wrote as a CDATA section."""

    text: str


Node = tuple[str, "str | Cdata | Sequence[Node] | None"]
"""One element: ``(name, value)``; value ``None`` is ``xsi:nil``, ``""`` an empty element, a
sequence the child elements (empty: ``<Name />``)."""


def _element(name: str, value: str | Cdata | Sequence[Node] | None, depth: int) -> list[str]:
    pad = "  " * depth
    if value is None:
        return [f'{pad}<{name} xsi:nil="true" />']
    if isinstance(value, Cdata):
        return [f"{pad}<{name}><![CDATA[{value.text}]]></{name}>"]
    if isinstance(value, str):
        return [f"{pad}<{name} />" if value == "" else f"{pad}<{name}>{escape(value)}</{name}>"]
    if not value:
        return [f"{pad}<{name} />"]
    lines = [f"{pad}<{name}>"]
    for child, child_value in value:
        lines += _element(child, child_value, depth + 1)
    return [*lines, f"{pad}</{name}>"]


def xml_serializer_document(root: str, children: Sequence[Node]) -> str:
    """A document as .NET ``XmlSerializer`` writes it to a string (README Q1 of such systems):
    ``encoding="utf-16"`` declaration, CRLF line ends, two-space indent, ``xmlns:xsi`` and
    ``xmlns:xsd`` on the root, ``<X xsi:nil="true" />`` for null and ``<X />`` for empty."""
    lines = ['<?xml version="1.0" encoding="utf-16"?>', f"<{root} {_NAMESPACES}>"]
    for name, value in children:
        lines += _element(name, value, 1)
    return "\r\n".join([*lines, f"</{root}>"])


def asmx_string(text: str) -> str:
    """``text`` escaped as ASMX writes a string into the SOAP body: ``& < >`` and CR as
    ``&#xD;`` (quotes stay as they are)."""
    return escape(text).replace("\r", "&#xD;")


def asmx_response(namespace: str, operation: str, result: str) -> bytes:
    """The answer envelope of ``operation`` whose ``<operation>Result`` string is ``result``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP11_ENVELOPE}" {_NAMESPACES}><soap:Body>'
        f'<{operation}Response xmlns="{namespace}"><{operation}Result>{asmx_string(result)}'
        f"</{operation}Result></{operation}Response></soap:Body></soap:Envelope>"
    ).encode()


def soap_fault(faultstring: str, faultcode: str = "soap:Server") -> bytes:
    """A SOAP 1.1 Fault envelope as ASMX writes it (sent with HTTP 500)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP11_ENVELOPE}" {_NAMESPACES}><soap:Body><soap:Fault>'
        f"<faultcode>{faultcode}</faultcode><faultstring>{escape(faultstring)}</faultstring>"
        "<detail /></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def rewrite_wsdl_address(wsdl: bytes, location: str) -> bytes:
    """``wsdl`` with every ``soap:address``/``soap12:address`` location set to ``location``."""
    root = etree.fromstring(wsdl, etree.XMLParser(resolve_entities=False, no_network=True))
    for address in root.iter("{*}address"):
        if address.get("location") is not None:
            address.set("location", location)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


class SoapFaultAnswer(Exception):
    """Raised by an operation (or ``authenticate``) to answer a SOAP Fault (HTTP 500)."""

    def __init__(self, faultstring: str, faultcode: str = "soap:Server") -> None:
        super().__init__(faultstring)
        self.faultstring = faultstring
        self.faultcode = faultcode


@dataclass(frozen=True)
class SoapCall:
    """A SOAP 1.1 request as the service read it: names are local (namespace-free)."""

    operation: str
    action: str
    headers: Mapping[str, Mapping[str, str]]
    params: Mapping[str, str | None]


def _local(tag: object) -> str:
    return etree.QName(str(tag)).localname


def _fields(element: etree._Element) -> dict[str, str | None]:
    return {
        _local(child.tag): (None if child.get(f"{{{_XSI}}}nil") == "true" else child.text or "")
        for child in element
        if isinstance(child.tag, str)
    }


def read_soap_call(request: Request) -> SoapCall:
    """Read a SOAP 1.1 request with the hardened parser; a bad one raises ``SoapFaultAnswer``
    (``soap:Client``), as ASMX answers requests it cannot read."""
    try:
        root = parse_xml(request.body)
    except MessageRejected as exc:
        raise SoapFaultAnswer(f"服务器无法读取请求。 ---> {exc.reason}", "soap:Client") from None
    body = root.find(f"{{{SOAP11_ENVELOPE}}}Body")
    first = next((e for e in body if isinstance(e.tag, str)), None) if body is not None else None
    if root.tag != f"{{{SOAP11_ENVELOPE}}}Envelope" or first is None:
        raise SoapFaultAnswer("服务器无法读取请求。 ---> 不是 SOAP 1.1 信封。", "soap:Client")
    header = root.find(f"{{{SOAP11_ENVELOPE}}}Header")
    headers = {
        _local(part.tag): {k: v or "" for k, v in _fields(part).items()}
        for part in (header if header is not None else [])
        if isinstance(part.tag, str)
    }
    action = request.headers.get("soapaction", "")
    return SoapCall(_local(first.tag), action, headers, _fields(first))


Operation = Callable[[SoapCall], "str | Response"]
"""An operation: the result string of the call (or a whole ``Response``, for a fault)."""


class AsmxSimulator(ServedSimulator):
    """A loopback ASMX SOAP 1.1 endpoint; subclasses supply ``operations`` and ``authenticate``.

    ``inject_answer(operation, answer)`` replaces the next answers of an operation (a result
    string or a whole ``Response``); ``inject`` queues the HTTP faults of ``HttpSimulator``.
    ``calls`` records every SOAP call the service read. Life cycle and URLs: ``ServedSimulator``.
    """

    wsdl_query = "WSDL"

    def __init__(self, *, wsdl: bytes, path: str, namespace: str, port: int = 0) -> None:
        self.namespace = namespace
        self.calls: list[SoapCall] = []
        self._wsdl = wsdl
        self._answers: deque[tuple[str | None, str | Response]] = deque()
        self._lock = threading.Lock()
        super().__init__(path, port)

    def inject_answer(
        self, answer: str | Response, *, operation: str | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` (any, when None) with ``answer``."""
        with self._lock:
            self._answers.extend([(operation, answer)] * times)

    def _injected(self, operation: str) -> str | Response | None:
        with self._lock:
            for item in self._answers:
                if item[0] in (None, operation):
                    self._answers.remove(item)
                    return item[1]
        return None

    def operations(self) -> Mapping[str, Operation]:
        """The service's operations by name."""
        raise NotImplementedError

    def authenticate(self, call: SoapCall) -> None:
        """Check the call's SOAP headers; raise ``SoapFaultAnswer`` to refuse it."""

    def handle(self, request: Request) -> Response:
        """The ``HttpSimulator`` handler."""
        if request.path != self.path:
            return Response(404, b"<html><body>404 Not Found</body></html>", _html())
        if request.method == "GET":  # ?WSDL (HttpSimulator's parse_qs drops a bare "WSDL")
            location = self.endpoint
            return Response(200, rewrite_wsdl_address(self._wsdl, location), _XML_TYPE)
        if not request.headers.get("content-type", "").startswith("text/xml"):
            return Response(415, b"<html><body>415 Unsupported Media Type</body></html>", _html())
        try:
            return self._dispatch(request)
        except SoapFaultAnswer as fault:
            return Response(500, soap_fault(fault.faultstring, fault.faultcode), _XML_TYPE)

    def _dispatch(self, request: Request) -> Response:
        call = read_soap_call(request)
        with self._lock:
            self.calls.append(call)
        operations = self.operations()
        expected = f'"{self.namespace}{call.operation}"'
        if call.operation not in operations or call.action != expected:
            raise SoapFaultAnswer(
                f"服务器未能识别 HTTP 头 SOAPAction 的值: {call.action}。", "soap:Client"
            )
        self.authenticate(call)
        answer = self._injected(call.operation)
        if answer is None:
            answer = operations[call.operation](call)
        if isinstance(answer, Response):
            return answer
        return Response(200, asmx_response(self.namespace, call.operation, answer), _XML_TYPE)


def _html() -> dict[str, str]:
    return {"Content-Type": "text/html; charset=utf-8"}
