"""The outbound side of admin_criminal: framing a rendered transfer package as a signed publish.

``mappings/admin_criminal/transfer_package.yaml`` renders the body (README §5, compact JSON);
``frame`` turns it into the publish of README §2: routing key ``fj.<division>.<domain lower>``
(``Outgoing.path``), the AMQP properties of §2.2 and the six signed headers of §2.3
(``Outgoing.headers``; the shared transport tells them apart by name). ``open_connection`` is
``SPEC.connect``: the shared AMQP transport publishing to ``exchange``, mandatory and confirmed.

``x-timestamp`` is the epoch ms of ``CallContext.now`` (or the pinned call fact ``timestamp``);
``x-nonce`` is ``CallContext.nonce`` or a fresh random one. A resent package is framed again: new
timestamp, nonce and signature, the same ``message_id`` (the police side deduplicates on it).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from adapters._transports.amqp_peer import AmqpConnection, AmqpPeer
from adapters.admin_criminal._config import as_config
from adapters.admin_criminal._signing import key_bytes, sign
from runner.adapter_api import AdapterConfig, CallContext, MessageRejected, Outgoing
from schemas.timeutil import SHANGHAI

__all__ = ["PACKAGE_TYPE", "epoch_ms", "frame", "open_connection", "routing_key"]

PACKAGE_TYPE = "TRANSFER"
"""AMQP ``type`` of a transfer package (T2)."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_ms(moment: dt.datetime) -> int:
    """Epoch milliseconds of ``moment`` (a naive time is Asia/Shanghai), exactly."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)
    return (aware - _EPOCH) // dt.timedelta(milliseconds=1)


def routing_key(division_code: str, domain: str) -> str:
    """``fj.<division_code>.<domain in lower case>`` (README §2.1): ``fj.350322.sc``."""
    return f"fj.{division_code}.{domain.lower()}"


def _timestamp(call: CallContext) -> str:
    pinned = call.extra.get("timestamp")
    if pinned is not None:
        if not pinned.isdigit():
            raise ValueError("call fact 'timestamp' must be epoch milliseconds (digits)")
        return pinned
    return str(epoch_ms(call.now))


def _package_facts(document: bytes) -> tuple[str, str, str]:
    """(transferNo, caseCode, routing key) of a rendered package."""
    try:
        package: Any = json.loads(document)
        agency = package["fromAgency"]
        facts = (package["transferNo"], package["caseCode"])
        key = routing_key(agency["divisionCode"], agency["domain"])
    except (ValueError, LookupError, TypeError, AttributeError):
        raise MessageRejected(
            "the rendered package lacks transferNo, caseCode or fromAgency",
            message="transfer_package",
            rule="bad_render",
        ) from None
    if not all(isinstance(fact, str) and fact for fact in facts):
        raise MessageRejected(
            "transferNo and caseCode must be non-empty strings",
            message="transfer_package",
            rule="bad_render",
        )
    return facts[0], facts[1], key


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """The signed publish of a rendered transfer package (see the module docstring)."""
    settings = as_config(config)
    transfer_no, case_code, key = _package_facts(document)
    timestamp = _timestamp(call)
    signed = sign(
        key_bytes(settings.bus_key.get_secret_value()),
        app_id=settings.app_id,
        message_id=transfer_no,
        correlation_id=case_code,
        msg_type=PACKAGE_TYPE,
        timestamp=timestamp,
        nonce=call.nonce or secrets.token_hex(16),
        body=document,
    )
    headers = {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": "2",
        "message_id": transfer_no,
        "correlation_id": case_code,
        "type": PACKAGE_TYPE,
        "app_id": settings.app_id,
        "timestamp": str(int(timestamp) // 1000),
        **signed.headers(),
    }
    return Outgoing(
        body=document, headers=headers, method="PUBLISH", path=key, operation=message_id
    )


def open_connection(config: AdapterConfig) -> AmqpConnection:
    """``SPEC.connect``: publish to the police side's ``exchange`` (checked, never declared)."""
    settings = as_config(config)
    return AmqpConnection(AmqpPeer("admin_criminal", settings.peer()), settings.exchange)
