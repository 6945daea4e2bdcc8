"""eco_env — 生态环境执法监管系统 (self-built): legacy .NET ASMX SOAP 1.1 service.

The bus polls ``GetCaseList`` and ``GetPenaltyDecision`` (``SPEC.poll``, README §3.2) and
pushes joint tasks with ``PushJointTask`` (``SPEC.frame`` wraps the rendered ``<JointTask>``).
Results are escaped XML documents inside SOAP strings (quirk Q1, handled by the mappings'
``unwrap``); every request carries an ``AuthHeader`` signed with MD5 over
``UserName + Timestamp + SecretKey`` (upper-case hex, ``sign``).

The SOAP mechanics (WSDL loaded once with zeep, envelopes, SOAPAction, reading answers) are
shared in ``adapters._transports.soap``; calls go through ``adapters._transports.http``
(``SPEC.connect`` = ``open_transport``: based at the endpoint's origin, with the spec's
timeouts and at most ``max_concurrent`` = 2 requests of the account in flight).
``adapters.eco_env.simulator`` is a loopback server of the service for tests and the demo.

Example (a route that polls and one that pushes)::

    from: {system: eco_env, message: get_case_list_response}       # SPEC.poll emits it
    to:   [{system: eco_env, message: push_joint_task}]             # SPEC.frame signs it
"""

from __future__ import annotations

from adapters.eco_env._calls import (
    SERVICE,
    auth_header,
    frame,
    get_case_list_request,
    get_penalty_decision_request,
    open_transport,
    push_joint_task_request,
    sign,
    timestamp,
)
from adapters.eco_env._config import EcoEnvConfig
from adapters.eco_env._poll import poll, windows
from runner.adapter_api import AdapterSpec, MessageType

__all__ = [
    "SERVICE",
    "SPEC",
    "EcoEnvConfig",
    "auth_header",
    "frame",
    "get_case_list_request",
    "get_penalty_decision_request",
    "open_transport",
    "poll",
    "push_joint_task_request",
    "sign",
    "timestamp",
    "windows",
]

SPEC = AdapterSpec(
    id="eco_env",
    name_zh="生态环境执法监管系统",
    name_en="Ecology and environment enforcement supervision system",
    group="self-built",
    summary="Legacy ASMX SOAP 1.1: cases and penalty decisions polled, joint tasks pushed.",
    config=EcoEnvConfig,
    messages=(
        MessageType(
            "get_case_list_request",
            "outbound",
            "SOAP 1.1 GetCaseList",
            response="get_case_list_response",
        ),
        MessageType(
            "get_case_list_response",
            "inbound",
            "GetCaseListResult string: <CaseList>/<Error>",
            "enforcement.case.v1",
        ),
        MessageType(
            "get_penalty_decision_request",
            "outbound",
            "SOAP 1.1 GetPenaltyDecision",
            response="get_penalty_decision_response",
        ),
        MessageType(
            "get_penalty_decision_response",
            "inbound",
            "GetPenaltyDecisionResult string",
            "enforcement.penalty_decision.v1",
        ),
        MessageType(
            "push_joint_task",
            "outbound",
            "SOAP 1.1 PushJointTask(taskXml)",
            "enforcement.inspection.v1",
            response="push_joint_task_response",
        ),
        MessageType(
            "push_joint_task_response",
            "inbound",
            "PushJointTaskResult string: <Result>/<Error>",
            "delivery_outcome",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18081/EnforceService/LawEnforceService.asmx",
        "user_name": "fjzf_esb",
        "secret_key": "Hj#2025@FjzfEsb!test",
    },
    frame=frame,
    poll=poll,
    connect=open_transport,
)
