"""eco_env — 生态环境执法监管系统 (self-built): legacy .NET ASMX SOAP 1.1 service.

The bus polls ``GetCaseList`` and ``GetPenaltyDecision`` and pushes joint tasks with
``PushJointTask``. Results are escaped XML documents inside SOAP strings (quirk Q1, handled by
the mappings' ``unwrap``); every request carries an ``AuthHeader`` signed with MD5 over
``UserName + Timestamp + SecretKey`` (upper-case hex).
"""

from __future__ import annotations

from pydantic import HttpUrl, SecretStr

from runner.adapter_api import AdapterConfig, AdapterSpec, MessageType

__all__ = ["SPEC", "EcoEnvConfig"]


class EcoEnvConfig(AdapterConfig):
    """Connection settings of the eco_env service.

    Example::

        endpoint: https://hjzf.sthjt.fujian.gov.cn/EnforceService/LawEnforceService.asmx
        user_name: fjzf_esb
        secret_key: ${EBUS_ECO_ENV_SECRET}
    """

    endpoint: HttpUrl
    user_name: str
    secret_key: SecretStr
    page_size: int = 50
    poll_interval_s: int = 600
    window_overlap_s: int = 300


SPEC = AdapterSpec(
    id="eco_env",
    name_zh="生态环境执法监管系统",
    name_en="Ecology and environment enforcement supervision system",
    group="self-built",
    summary="Legacy ASMX SOAP 1.1: cases and penalty decisions polled, joint tasks pushed.",
    config=EcoEnvConfig,
    messages=(
        MessageType("get_case_list_request", "outbound", "SOAP 1.1 GetCaseList"),
        MessageType(
            "get_case_list_response",
            "inbound",
            "GetCaseListResult string: <CaseList>/<Error>",
            "enforcement.case.v1",
        ),
        MessageType("get_penalty_decision_request", "outbound", "SOAP 1.1 GetPenaltyDecision"),
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
)
