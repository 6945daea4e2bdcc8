"""The calls the bus makes to SupervisionDataService: signed ``uploadSupervisionData`` (§2).

An outbound mapping renders the inner document ``xmlData`` (GBK, ``encoding: gbk-ncr``);
``frame`` numbers its records (``RECORD/@SEQ`` from 1: the shared XML writer has no
attributes), signs it (``adapters.ip_supervision._signing``) and wraps it with zeep into the
SOAP 1.1 envelope of the WSDL: ``AuthHeader`` {timestamp, nonce, sign} and
``uploadSupervisionData`` {appId, dataType, xmlData}, children unqualified (JAX-WS).

``SupervisionConnection`` (``SPEC.connect``) sends calls through the shared HTTP transport and
adds to each answer what its mapping needs to match records to the call: the ``XWBH`` sent
with each ``SEQ`` (``meta['sent_xwbh']``, a JSON list). It also keeps the system's rules a
resend would break: a call is never sent twice with the same nonce (E008): a resend is signed
afresh. ``open_connection`` paces the transport under ``rate_limit`` (5 calls/s per appId,
§2.4, HTTP 503 above) with the shared pacer (``adapters._transports.pacing``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from lxml import etree

from adapters._transports.pacing import paced
from adapters._transports.soap import SoapService, endpoint_path, transport_for
from adapters.ip_supervision._config import IpSupervisionConfig, as_config
from adapters.ip_supervision._gbk import encode_gbk
from adapters.ip_supervision._signing import NONCE_PATTERN, sign, timestamp
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    Connection,
    MessageRejected,
    Outgoing,
    PermanentError,
    RawMessage,
    parse_xml,
)
from schemas.timeutil import SHANGHAI

__all__ = [
    "DATA_TYPES",
    "MAX_RECORDS",
    "MAX_XML_DATA_BYTES",
    "NAMESPACE",
    "OPERATION",
    "SERVICE",
    "SupervisionConnection",
    "frame",
    "number_records",
    "open_connection",
    "read_call",
    "sent_records",
    "upload_request",
    "variables",
]

NAMESPACE = "http://hlwjg.fujian.gov.cn/supervision/ws"
OPERATION = "uploadSupervisionData"
DATA_TYPES: Mapping[str, str] = {"upload_inspection": "XZJC", "upload_penalty": "XZCF"}
"""The ``dataType`` of each outbound message type (README "Message types")."""
MAX_RECORDS = 200
MAX_XML_DATA_BYTES = 5 * 1024 * 1024
"""At most 200 records and 5 MB per call (README §2.2)."""
CONTENT_TYPE = "text/xml; charset=UTF-8"

SERVICE = SoapService(Path(__file__).with_name("service.wsdl"), system="ip_supervision")
"""The service's WSDL (a copy of the spec's ``service.wsdl``), loaded once on first use."""

_RECORD_TAG = re.compile(r"<RECORD>")


def variables(message_id: str, config: AdapterConfig, call: CallContext) -> Mapping[str, object]:
    """``app_id`` and ``send_time`` (= the AuthHeader timestamp) for ``HEAD`` (README §2.2)."""
    return {"app_id": as_config(config).app_id, "send_time": timestamp(call.now)}


def number_records(document: str) -> str:
    """Give every ``<RECORD>`` its ``SEQ`` attribute, counting from 1 in document order.

    Text never holds a raw ``<`` (the writer escapes it), so every match is an element.
    """
    counter = iter(range(1, MAX_RECORDS + 2))
    return _RECORD_TAG.sub(lambda _m: f'<RECORD SEQ="{next(counter)}">', document)


def _nonce(call: CallContext) -> str:
    if not call.nonce:
        return secrets.token_hex(16)
    if not NONCE_PATTERN.fullmatch(call.nonce):
        raise ValueError("the AuthHeader nonce must be 32 lowercase hex characters")
    return call.nonce


def upload_request(
    config: IpSupervisionConfig, data_type: str, xml_data: str, stamp: str, nonce: str
) -> Outgoing:
    """The signed ``uploadSupervisionData`` call carrying ``xml_data`` (README §2.1-§2.3)."""
    secret = config.app_secret.get_secret_value()
    signature = sign(secret, config.app_id, data_type, stamp, nonce, encode_gbk(xml_data))
    call = SERVICE.request(
        OPERATION,
        path=endpoint_path(str(config.endpoint)),
        headers={"AuthHeader": {"timestamp": stamp, "nonce": nonce, "sign": signature}},
        appId=config.app_id,
        dataType=data_type,
        xmlData=xml_data,
    )
    return Outgoing(
        body=call.body,
        headers={**call.headers, "Content-Type": CONTENT_TYPE},
        method=call.method,
        path=call.path,
        operation=call.operation,
    )


def _check_size(message_id: str, records: int, size: int) -> None:
    if records > MAX_RECORDS:
        raise MessageRejected(
            f"{records} records in one call; the system takes at most {MAX_RECORDS} (E006)",
            system="ip_supervision",
            message=message_id,
            field="BODY/RECORD",
            rule="too_many_records",
        )
    if size > MAX_XML_DATA_BYTES:
        raise MessageRejected(
            f"xmlData of {size} bytes; the system takes at most 5 MB per call",
            system="ip_supervision",
            message=message_id,
            field="xmlData",
            rule="xml_data_too_large",
        )


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """``AdapterSpec.frame``: the rendered ``xmlData`` (GBK bytes) as a signed call.

    The AuthHeader ``timestamp`` is ``call.now`` in Beijing time (the same value the mapping
    wrote into ``HEAD/SENDTIME``); ``nonce`` is ``call.nonce`` or a fresh random one.
    """
    data_type = DATA_TYPES.get(message_id)
    if data_type is None:
        raise ValueError(f"ip_supervision has no outbound call '{message_id}'")
    xml_data = number_records(document.decode("gbk"))
    _check_size(message_id, xml_data.count("<RECORD SEQ="), len(encode_gbk(xml_data)))
    return upload_request(as_config(config), data_type, xml_data, timestamp(call.now), _nonce(call))


# --- reading our own calls ---------------------------------------------------------------------


def read_call(body: bytes) -> dict[str, str]:
    """The AuthHeader fields and parameters of an ``uploadSupervisionData`` envelope
    (``timestamp``, ``nonce``, ``sign``, ``appId``, ``dataType``, ``xmlData``)."""
    root = parse_xml(body)
    fields: dict[str, str] = {}
    for part in (f"{{{NAMESPACE}}}AuthHeader", f"{{{NAMESPACE}}}{OPERATION}"):
        element = root.find(f".//{part}")
        if element is None:
            raise ValueError(f"not an {OPERATION} call: no {etree.QName(part).localname}")
        fields |= {etree.QName(c).localname: c.text or "" for c in element if _is_element(c)}
    return fields


def _is_element(node: object) -> bool:
    return isinstance(getattr(node, "tag", None), str)


def sent_records(xml_data: str) -> list[str]:
    """The ``XWBH`` of each record of ``xml_data``, in ``SEQ`` order."""
    root = parse_xml(encode_gbk(xml_data), "gbk")
    by_seq = {
        int(record.get("SEQ") or 0): record.findtext("XWBH") or ""
        for record in root.iterfind("BODY/RECORD")
    }
    return [by_seq[seq] for seq in sorted(by_seq)]


# --- the connection ---------------------------------------------------------------------------


class SupervisionConnection:
    """``SPEC.connect``'s link: the shared HTTP transport plus the rules of README §2.3-§2.4.

    ``clock`` signs a resent call afresh (the live clock; tests pass the simulator's).
    """

    def __init__(
        self,
        config: IpSupervisionConfig,
        transport: Connection,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.clock = clock or (lambda: dt.datetime.now(SHANGHAI))
        self._used: OrderedDict[str, float] = OrderedDict()  # nonce → monotonic time used
        self._lock = threading.Lock()

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` (signed afresh if its nonce was used) and annotate the answer."""
        try:
            fields = read_call(call.body)
        except (ValueError, MessageRejected) as exc:
            raise PermanentError(
                f"ip_supervision: not an upload call ({exc})", code="SOAP_REQUEST"
            ) from exc
        if self._reused(fields["nonce"]):
            call = upload_request(
                self.config,
                fields["dataType"],
                fields["xmlData"],
                timestamp(self.clock()),
                secrets.token_hex(16),
            )
            fields = read_call(call.body)
            self._reused(fields["nonce"])
        answer = self.transport.send(call)
        sent = json.dumps(sent_records(fields["xmlData"]), ensure_ascii=False)
        return RawMessage(
            answer.body,
            answer.headers,
            {**answer.meta, "sent_xwbh": sent},
            answer.received_at,
        )

    def _reused(self, nonce: str) -> bool:
        """True when ``nonce`` was sent in the last 15 minutes; records it otherwise."""
        moment = time.monotonic()
        with self._lock:
            while self._used and next(iter(self._used.values())) < moment - 900:
                self._used.popitem(last=False)
            if nonce in self._used:
                return True
            self._used[nonce] = moment
            return False

    def close(self) -> None:
        """Close the HTTP transport."""
        self.transport.close()


def open_connection(config: AdapterConfig) -> SupervisionConnection:
    """``AdapterSpec.connect``: the connection to ``config.endpoint`` (connect 10 s, read 60 s
    unless configured), paced under ``rate_limit`` for the appId."""
    settings = as_config(config)
    transport = transport_for(
        "ip_supervision",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    rate = settings.rate_limit
    return SupervisionConnection(
        settings, paced("ip_supervision", settings.app_id, transport, rate)
    )
