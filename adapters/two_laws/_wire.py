"""The wire of two_laws: signed SOAP 1.1 requests out, GBK answers in (README §2, §3, §4).

Outbound (``frame``): the outbound mappings render the operation element without a namespace
(``<submitCaseInfo>…``, ``<fetchSupervisionNotices>…``); ``frame`` checks what the WSDL and
README require of it that a mapping cannot say (3.3-3.5: the "Y for 02" elements, the party
identifiers, ``ajqk`` ≤ 4000 characters), puts it into the service namespace and wraps it into
the envelope exactly as the samples write it: prefixes ``soapenv`` and ``lf``, no white space,
an empty element as ``<lf:x/>``, header ``AuthInfo`` with ``signature`` = upper-case hex MD5 of
``userName + timestamp + password`` (``sign``). The SOAPAction comes from the WSDL
(``SERVICE``, shared ``SoapService``).

Inbound (``prepare``): an answer that is not a SOAP envelope (an HTML error page) is refused
(``not_soap``: the delivery worker retries a 5xx, fails a 4xx). A
``fetchSupervisionNoticesResponse`` does not say which agency it answers, but a notice's
``source_message_id`` and ``addressee_uscc`` need the request's ``orgCode`` (4.1, 4.2). The
poller passes the request with the answer as transport facts (``meta``: ``orgCode``,
``sinceSeq``, and ``position`` of the one notice a message stands for);
``prepare`` parses the GBK answer with the hardened parser and hands the mapping::

    <ebus:fetch xmlns:ebus="urn:ebus:two_laws"><ebus:orgCode>…</ebus:orgCode>
      <ebus:sinceSeq>…</ebus:sinceSeq><ebus:position>2</ebus:position>
      <soap:Envelope>… the answer …</soap:Envelope></ebus:fetch>

in UTF-8. Dry runs pass the facts with ``ebus map two_laws fetch_notices_response FILE
--meta orgCode=11350200MB1C034749 --meta sinceSeq=1040`` (the names of the samples'
``.request.json``). A page with notices but without ``orgCode``/``sinceSeq`` is refused: its
notices cannot be attributed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from lxml import etree

from adapters._transports.pacing import paced
from adapters._transports.soap import (
    SOAP11_ENVELOPE,
    SOAP11_HEADERS,
    SoapService,
    endpoint_path,
    transport_for,
)
from adapters.two_laws._config import TwoLawsConfig, as_config
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    Connection,
    MessageRejected,
    Outgoing,
    RawMessage,
    parse_xml,
)
from schemas.identifiers import check_uscc
from schemas.timeutil import SHANGHAI

__all__ = [
    "DECLARATION",
    "NAMESPACE",
    "OPERATIONS",
    "SERVICE",
    "WRAPPER",
    "envelope",
    "fetch_document",
    "fetch_request",
    "frame",
    "open_transport",
    "prepare",
    "sign",
    "timestamp",
]

NAMESPACE = "http://lfxj.fjjcy.gov.cn/exchange/v3"
WRAPPER = "urn:ebus:two_laws"
"""Namespace of the request wrapper ``prepare`` puts around a notice page."""
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
OPERATIONS: Mapping[str, str] = {
    "submit_case": "submitCaseInfo",
    "fetch_notices_request": "fetchSupervisionNotices",
}
"""The SOAP operation of each outbound message type."""
SERVICE = SoapService(Path(__file__).with_name("service.wsdl"), system="two_laws")
"""The service's WSDL (a copy of the spec's ``service.wsdl``), loaded once on first use."""

_SYSTEM = "two_laws"
_NSMAP = {"soapenv": SOAP11_ENVELOPE, "lf": NAMESPACE}
_CASE_REQUIRED = (
    "sfm", "xzajbh", "ajmc", "lydm", "xzjgmc", "xzjgdm", "xzqhdm", "ajly", "cxlx", "ajzt",
    "lasj", "wfxwlx", "ajqk", "sajz",
)  # fmt: skip
_TRANSFER_REQUIRED = ("yslsh", "ysfx", "sfm", "yszt", "ztbgsj")
_TRANSFER_REQUIRED_02 = ("ysjgmc", "ysjgdm", "jsjgmc", "jsjglx", "xyzm")
_LIST_REQUIRED = {
    "zjList/zj": ("mc", "zjlb", "zysf", "zyz", "dx"),
    "wsList/ws": ("wslx", "wsmc"),
    "lsjl/jl": ("zt", "sj", "czr"),
}
_MAX_FACTS = 4000
_ID_NUMBER = re.compile(r"\d{15}|\d{17}[\dX]")


def sign(user_name: str, timestamp: str, password: str) -> str:
    """``signature`` of AuthInfo: MD5 of the UTF-8 bytes of user + timestamp + password,
    upper-case hex (README §2.2).

    >>> sign("MZF_ESB", "20240305160000", "Lfxj@2024#Esb")
    '24D5F23546B2136772E41165AD56EE7C'
    """
    text = f"{user_name}{timestamp}{password}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def timestamp(now: dt.datetime) -> str:
    """``now`` as AuthInfo's ``timestamp``: Asia/Shanghai, ``yyyyMMddHHmmss``."""
    local = now.replace(tzinfo=SHANGHAI) if now.tzinfo is None else now.astimezone(SHANGHAI)
    return local.strftime("%Y%m%d%H%M%S")


def _copy(source: etree._Element, parent: etree._Element) -> None:
    """Copy ``source`` (no namespace) under ``parent`` in the service namespace (prefix lf)."""
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{source.tag}")
    element.text = source.text or None
    for child in source:
        if isinstance(child.tag, str):
            _copy(child, element)


def envelope(document: etree._Element, config: TwoLawsConfig, now: dt.datetime) -> bytes:
    """The request envelope around the operation element ``document``, signed at ``now``."""
    stamp = timestamp(now)
    password = config.password.get_secret_value()
    root = etree.Element(f"{{{SOAP11_ENVELOPE}}}Envelope", nsmap=_NSMAP)
    header = etree.SubElement(root, f"{{{SOAP11_ENVELOPE}}}Header")
    auth = etree.SubElement(header, f"{{{NAMESPACE}}}AuthInfo")
    for name, value in (
        ("userName", config.user_name),
        ("timestamp", stamp),
        ("signature", sign(config.user_name, stamp, password)),
    ):
        etree.SubElement(auth, f"{{{NAMESPACE}}}{name}").text = value
    _copy(document, etree.SubElement(root, f"{{{SOAP11_ENVELOPE}}}Body"))
    return DECLARATION + etree.tostring(root, encoding="utf-8", xml_declaration=False)


def _reject(message_id: str, field: str, reason: str, rule: str) -> MessageRejected:
    return MessageRejected(reason, system=_SYSTEM, message=message_id, field=field, rule=rule)


def _text(element: etree._Element, path: str) -> str:
    return (element.findtext(path) or "").strip()


def _require(message_id: str, element: etree._Element, where: str, names: Iterable[str]) -> None:
    for name in names:
        if not _text(element, name):
            raise _reject(message_id, f"{where}.{name}", "a required element is empty", "required")


def _check_party(message_id: str, party: etree._Element, where: str) -> None:
    """A ``dsr`` (3.5): a USCC unless a natural person, else an id type and number."""
    _require(message_id, party, where, ("dsrlx", "mc"))
    if _text(party, "dsrlx") != "4":
        _require(message_id, party, where, ("tyshxydm",))
        return
    _require(message_id, party, where, ("zjlx", "zjhm"))
    number = _text(party, "zjhm")
    if _text(party, "zjlx") == "111" and not _ID_NUMBER.fullmatch(number):
        raise _reject(message_id, f"{where}.zjhm", "not a 15- or 18-digit id number", "id_format")


def _check_case(message_id: str, case: etree._Element) -> None:
    where = "submitCaseInfo.caseInfo"
    _require(message_id, case, where, _CASE_REQUIRED)
    if len(_text(case, "ajqk")) > _MAX_FACTS:
        raise _reject(message_id, f"{where}.ajqk", "longer than 4000 characters", "max_length")
    parties = case.findall("dsrList/dsr")
    if not parties:
        raise _reject(message_id, f"{where}.dsrList", "at least one party is required", "required")
    for index, party in enumerate(parties):
        _check_party(message_id, party, f"{where}.dsrList.dsr[{index}]")


def _check_transfer(message_id: str, info_type: str, transfer: etree._Element) -> None:
    where = "submitCaseInfo.transferInfo"
    _require(message_id, transfer, where, _TRANSFER_REQUIRED)
    if info_type == "02":
        _require(message_id, transfer, where, _TRANSFER_REQUIRED_02)
        if _text(transfer, "ysfx") == "1":
            _require(message_id, transfer, where, ("cfgz",))
    for path, names in _LIST_REQUIRED.items():
        for index, item in enumerate(transfer.findall(path)):
            _require(message_id, item, f"{where}.{path.replace('/', '.')}[{index}]", names)
    if not transfer.findall("lsjl/jl"):
        raise _reject(message_id, f"{where}.lsjl", "the history is empty", "required")


def _check_submit(message_id: str, document: etree._Element) -> None:
    """What README 3.3-3.5 require of a ``submitCaseInfo`` beyond the mapping's own rules."""
    info_type = _text(document, "infoType")
    case, transfer = document.find("caseInfo"), document.find("transferInfo")
    if info_type == "01" and case is not None and transfer is None:
        _require(message_id, document, "submitCaseInfo", ("orgCode",))
        _check_case(message_id, case)
    elif info_type in ("02", "03") and transfer is not None and case is None:
        if info_type == "02":
            _require(message_id, document, "submitCaseInfo", ("orgCode",))
        _check_transfer(message_id, info_type, transfer)
    else:
        raise _reject(
            message_id,
            "submitCaseInfo.infoType",
            f"infoType '{info_type}' does not fit the elements sent",
            "info_type",
        )
    org = _text(document, "orgCode")
    if org:
        _check_uscc(message_id, "submitCaseInfo.orgCode", org)


def _check_uscc(message_id: str, field: str, code: str) -> None:
    try:
        check_uscc(code)
    except ValueError as exc:  # PydanticCustomError is a ValueError
        raise _reject(message_id, field, str(exc), "uscc_check") from None


def _check_fetch(message_id: str, document: etree._Element) -> None:
    _check_uscc(message_id, "fetchSupervisionNotices.orgCode", _text(document, "orgCode"))
    if not _text(document, "sinceSeq").isdigit():
        raise _reject(
            message_id,
            "fetchSupervisionNotices.sinceSeq",
            "sinceSeq is a whole number ≥ 0",
            "since_seq",
        )


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """``AdapterSpec.frame``: the checked, signed SOAP call carrying the rendered operation."""
    operation = OPERATIONS.get(message_id)
    if operation is None:
        raise _reject(message_id, "message", "not an outbound call of two_laws", "message")
    root = parse_xml(document)
    if root.tag != operation:
        raise _reject(message_id, "body", f"expected <{operation}>, got <{root.tag}>", "operation")
    (_check_submit if message_id == "submit_case" else _check_fetch)(message_id, root)
    settings = as_config(config)
    headers = dict(SOAP11_HEADERS) | {"SOAPAction": f'"{SERVICE.soap_action(operation)}"'}
    return Outgoing(
        body=envelope(root, settings, call.now),
        headers=headers,
        method="POST",
        path=endpoint_path(str(settings.endpoint)),
        operation=operation,
    )


def fetch_document(org_code: str, since_seq: int) -> bytes:
    """The rendered ``fetchSupervisionNotices`` of the poller (what the mapping renders)."""
    root = etree.Element("fetchSupervisionNotices")
    etree.SubElement(root, "orgCode").text = org_code
    etree.SubElement(root, "sinceSeq").text = str(since_seq)
    return etree.tostring(root, encoding="utf-8")


def fetch_request(
    config: AdapterConfig, call: CallContext, org_code: str, since_seq: int
) -> Outgoing:
    """The signed ``fetchSupervisionNotices(orgCode, sinceSeq)`` call."""
    return frame("fetch_notices_request", fetch_document(org_code, since_seq), config, call)


def _has_notices(root: etree._Element) -> bool:
    return root.find(f".//{{{NAMESPACE}}}notices/{{{NAMESPACE}}}notice") is not None


def _soap_answer(raw: RawMessage) -> etree._Element:
    """The answer parsed (GBK, hardened); anything but a SOAP 1.1 envelope is refused, so that
    an HTML error page (a 502/503 of the gateway) never passes for an answer."""
    answer = parse_xml(raw.body, "gbk")
    if answer.tag != f"{{{SOAP11_ENVELOPE}}}Envelope":
        status = raw.meta.get("status") or "200"
        raise MessageRejected(
            f"the answer (HTTP {status}) is not a SOAP 1.1 envelope", rule="not_soap"
        )
    return answer


def prepare(message_id: str, raw: RawMessage, _config: AdapterConfig) -> bytes:
    """``AdapterSpec.prepare``: answers must be SOAP envelopes; a notice page gets its request
    (see the module docstring)."""
    answer = _soap_answer(raw)
    if message_id != "fetch_notices_response":
        return raw.body
    facts = {name: (raw.meta.get(name) or "").strip() for name in ("orgCode", "sinceSeq")}
    if _has_notices(answer) and not all(facts.values()):
        missing = [name for name, value in facts.items() if not value]
        raise MessageRejected(
            f"the request this page answers is unknown ({', '.join(missing)} missing): its "
            "notices cannot be attributed",
            field="meta." + missing[0],
            rule="request_unknown",
        )
    wrapper = etree.Element(f"{{{WRAPPER}}}fetch", nsmap={"ebus": WRAPPER})  # no default ns:
    # the answer's unqualified elements (faultcode) must stay in no namespace
    position = (raw.meta.get("position") or "").strip()
    for name, value in (*facts.items(), ("position", position)):
        if value:
            etree.SubElement(wrapper, f"{{{WRAPPER}}}{name}").text = value
    wrapper.append(answer)
    return etree.tostring(wrapper, encoding="utf-8")


def open_transport(config: AdapterConfig) -> Connection:
    """``AdapterSpec.connect``: the HTTP transport of ``config.endpoint`` (read timeout 30 s,
    as README §2.3 recommends), paced under the account's ``rate_limit`` (20 calls/s)."""
    settings = as_config(config)
    transport = transport_for(
        _SYSTEM,
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    return paced(_SYSTEM, settings.user_name, transport, settings.rate_limit)
