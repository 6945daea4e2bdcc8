"""The calls the bus makes to eco_env: signed SOAP 1.1 requests (README §2, §3.2, §4).

Every request carries ``AuthHeader``: ``UserName``, ``Timestamp`` (the call's clock in Beijing
time, ``yyyyMMddHHmmss``) and ``Sign`` = upper-case hex MD5 of ``UserName + Timestamp +
SecretKey``. The one place that computes it is ``sign``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from adapters._transports.pacing import paced
from adapters._transports.soap import SoapService, endpoint_path, transport_for
from adapters.eco_env._config import EcoEnvConfig, as_config
from runner.adapter_api import AdapterConfig, CallContext, Connection, Outgoing, PermanentError
from schemas.timeutil import SHANGHAI

__all__ = [
    "SERVICE",
    "auth_header",
    "frame",
    "get_case_list_request",
    "get_penalty_decision_request",
    "open_transport",
    "push_joint_task_request",
    "sign",
    "timestamp",
    "window_time",
]

SERVICE = SoapService(Path(__file__).with_name("service.wsdl"), system="eco_env")
"""The service's WSDL (a copy of the spec's ``service.wsdl``), loaded once on first use."""


def sign(user_name: str, timestamp: str, secret_key: str) -> str:
    """``Sign`` of the AuthHeader: MD5 of the UTF-8 bytes of user + timestamp + secret, upper hex.

    >>> sign("fjzf_esb", "20250410091500", "Hj#2025@FjzfEsb!test")
    '6432BA359D3496B14443029CBDB3B05B'
    """
    text = f"{user_name}{timestamp}{secret_key}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def timestamp(now: dt.datetime) -> str:
    """``now`` as the AuthHeader's ``Timestamp``: Beijing time, ``yyyyMMddHHmmss``."""
    return _beijing(now).strftime("%Y%m%d%H%M%S")


def window_time(at: dt.datetime) -> str:
    """A ``GetCaseList`` window end: Beijing time, ``yyyy-MM-dd HH:mm:ss``."""
    return _beijing(at).strftime("%Y-%m-%d %H:%M:%S")


def _beijing(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=SHANGHAI) if at.tzinfo is None else at.astimezone(SHANGHAI)


def auth_header(config: EcoEnvConfig, now: dt.datetime) -> dict[str, dict[str, object]]:
    """The SOAP header parts of a request made at ``now``."""
    stamp = timestamp(now)
    secret = config.secret_key.get_secret_value()
    return {
        "AuthHeader": {
            "UserName": config.user_name,
            "Timestamp": stamp,
            "Sign": sign(config.user_name, stamp, secret),
        }
    }


def _request(config: EcoEnvConfig, call: CallContext, operation: str, **params: object) -> Outgoing:
    return SERVICE.request(
        operation,
        path=endpoint_path(str(config.endpoint)),
        headers=auth_header(config, call.now),
        **params,
    )


def get_case_list_request(
    config: EcoEnvConfig,
    call: CallContext,
    start: dt.datetime,
    end: dt.datetime,
    page_index: int,
    page_size: int,
) -> Outgoing:
    """``GetCaseList(startTime, endTime, pageIndex, pageSize)``: the cases updated in
    ``[start, end]`` (both inclusive), one page."""
    return _request(
        config,
        call,
        "GetCaseList",
        startTime=window_time(start),
        endTime=window_time(end),
        pageIndex=page_index,
        pageSize=page_size,
    )


def get_penalty_decision_request(config: EcoEnvConfig, call: CallContext, case_id: int) -> Outgoing:
    """``GetPenaltyDecision(caseId)``."""
    return _request(config, call, "GetPenaltyDecision", caseId=case_id)


def push_joint_task_request(config: EcoEnvConfig, call: CallContext, task_xml: str) -> Outgoing:
    """``PushJointTask(taskXml)``: ``task_xml`` travels as a string, escaped by the envelope."""
    return _request(config, call, "PushJointTask", taskXml=task_xml)


def frame(message_id: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    """``AdapterSpec.frame``: the rendered ``<JointTask>`` becomes a signed ``PushJointTask``.

    The requests of the poller (``get_case_list_request``, ``get_penalty_decision_request``)
    have no mapping: the poller builds them with the functions of the same names.
    """
    if message_id != "push_joint_task":
        raise PermanentError(
            f"eco_env {message_id}: only push_joint_task is rendered from a mapping",
            code="SOAP_REQUEST",
        )
    return push_joint_task_request(as_config(config), call, document.decode("utf-8"))


def open_transport(config: AdapterConfig) -> Connection:
    """``AdapterSpec.connect``: the HTTP transport for ``config.endpoint`` with the spec's
    timeouts (connect 10 s, read 60 s unless configured), at most ``max_concurrent`` requests
    of the account in flight."""
    settings = as_config(config)
    transport = transport_for(
        "eco_env",
        str(settings.endpoint),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    cap = settings.max_concurrent
    return paced("eco_env", settings.user_name, transport, None, cap)
