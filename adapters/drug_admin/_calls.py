"""The calls the bus makes to drug_admin: SOAP 1.2 requests with a UsernameToken (README §2, §3).

Every request is built by zeep from the WSDL (``SERVICE``) and carries a fresh WS-Security
UsernameToken with a PasswordDigest (``adapters.drug_admin._wsse``): the call's clock gives
``Created`` (UTC, ``…Z``) and its nonce the 16 nonce bytes, so a render with fixed ``now`` and
``nonce`` reproduces a sample; a live call gets a new nonce every time (also on a resend).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

from adapters._transports.pacing import paced
from adapters._transports.soap import endpoint_path, transport_for
from adapters._transports.soap12 import Soap12Service
from adapters.drug_admin._config import DrugAdminConfig, as_config
from adapters.drug_admin._wsse import SOAP12_ENVELOPE, Token, created_text, nonce_bytes
from runner.adapter_api import AdapterConfig, CallContext, Connection, Outgoing, PermanentError
from schemas.timeutil import SHANGHAI

__all__ = [
    "NAMESPACE",
    "OPERATIONS",
    "SERVICE",
    "frame",
    "open_transport",
    "query_request",
    "since_text",
    "token",
]

NAMESPACE = "http://zhjg.yjj.fujian.gov.cn/ws/jcjc/v1"
OPERATIONS: Mapping[str, str] = {
    "query_inspections": "QueryInspections",
    "query_penalties": "QueryPenalties",
    "assign_joint_task": "AssignJointTask",
}
"""The SOAP operation of each message type the bus calls (or answers to a poll)."""
SERVICE = Soap12Service(
    Path(__file__).with_name("service.wsdl"),
    system="drug_admin",
    prefixes={"soap12": SOAP12_ENVELOPE, "jc": NAMESPACE},
)
"""The service's WSDL (a copy of the spec's ``service.wsdl``), loaded once on first use."""


def token(config: DrugAdminConfig, call: CallContext) -> object:
    """The UsernameToken of one call: ``Created`` from ``call.now``, nonce from ``call.nonce``."""
    return Token(
        config.user_name,
        config.password.get_secret_value(),
        nonce_bytes(call.nonce),
        created_text(call.now),
    )


def since_text(at: dt.datetime) -> str:
    """``SinceTime`` as the service reads it: Beijing time, seconds, no zone."""
    return _beijing_naive(at).isoformat()


def _beijing_naive(at: dt.datetime) -> dt.datetime:
    local = at.astimezone(SHANGHAI).replace(tzinfo=None) if at.tzinfo else at
    return local.replace(microsecond=0)


def query_request(
    message_id: str,
    config: DrugAdminConfig,
    call: CallContext,
    since: dt.datetime,
    page_no: int,
    page_size: int,
) -> Outgoing:
    """``QueryInspections``/``QueryPenalties`` (by ``message_id``): one page of the records
    updated at or after ``since`` (README §2.4, §3.3)."""
    return SERVICE.request(
        OPERATIONS[message_id],
        path=endpoint_path(str(config.endpoint)),
        token=token(config, call),
        SinceTime=_beijing_naive(since),
        PageNo=page_no,
        PageSize=page_size,
    )


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """``AdapterSpec.frame``: the rendered task (JSON ``{"Task": {...}}``, null = omitted)
    becomes a signed ``AssignJointTask`` request; zeep checks it against the WSDL's XSD."""
    if message_id != "assign_joint_task":
        raise PermanentError(
            f"drug_admin {message_id}: only assign_joint_task is rendered from a mapping",
            code="SOAP_REQUEST",
        )
    settings = as_config(config)
    task = json.loads(document)["Task"]
    return SERVICE.request(
        "AssignJointTask",
        path=endpoint_path(str(settings.endpoint)),
        token=token(settings, call),
        Task=task,
    )


def open_transport(config: AdapterConfig) -> Connection:
    """``AdapterSpec.connect``: the HTTP transport for ``config.endpoint`` with the spec's
    timeouts (connect 5 s, read 30 s unless configured), at most ``max_concurrent`` requests of
    the account in flight."""
    settings = as_config(config)
    transport = transport_for(
        "drug_admin",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    return paced("drug_admin", settings.user_name, transport, None, settings.max_concurrent)
