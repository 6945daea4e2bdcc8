"""drug_admin — 福建省药品智慧监管平台 检查稽查子系统 (self-built): SOAP 1.2 with WS-Security.

The drug, medical-device and cosmetics line (药品监管, domain ``YP``). The bus is the client of
every operation of InspectionExchangeService (README §1, §2):

- ``SPEC.poll`` polls ``QueryInspections`` and ``QueryPenalties`` every 10 minutes from
  inclusive ``SinceTime`` cursors and emits each answer page as ``query_inspections`` /
  ``query_penalties`` (``adapters.drug_admin._poll``); ``SPEC.prepare`` drops a record repeated
  inside a page; the mappings read typed records and the ``ResultXml`` document in a string.
- ``assign_joint_task``: a planned ``enforcement.inspection.v1`` of the platform becomes an
  ``AssignJointTask`` request; ``SPEC.frame`` has zeep build it from the WSDL and sign it.

Every request carries a WS-Security UsernameToken with a PasswordDigest (zeep's
``UsernameToken``, ``Created`` in UTC with ``Z``; ``adapters.drug_admin._wsse``). SOAP 1.2
framing and reading are the shared ``adapters._transports.soap12``; calls go through
``adapters._transports.http`` (``SPEC.connect``).
``adapters.drug_admin.simulator`` is the service on loopback for tests and the demo.

Example (routes)::

    from: {system: drug_admin, message: query_penalties}           # SPEC.poll emits it
    to:   [{feed: enforcement.penalty_decision.v1}, {system: credit_fj, message: penalty_push}]
"""

from __future__ import annotations

from adapters._transports.soap12 import Soap12Fault, Soap12Service
from adapters.drug_admin._answers import ResultCodeError, error_for_fault, response_element
from adapters.drug_admin._calls import (
    NAMESPACE,
    OPERATIONS,
    SERVICE,
    frame,
    open_transport,
    query_request,
    since_text,
    token,
)
from adapters.drug_admin._config import DrugAdminConfig
from adapters.drug_admin._pages import Page, prepare, read_page
from adapters.drug_admin._poll import QUERIES, poll, start_since
from adapters.drug_admin._wsse import created_text, nonce_bytes, password_digest
from runner.adapter_api import AdapterSpec, MessageType

__all__ = [
    "NAMESPACE",
    "OPERATIONS",
    "QUERIES",
    "SERVICE",
    "SPEC",
    "DrugAdminConfig",
    "Page",
    "ResultCodeError",
    "Soap12Fault",
    "Soap12Service",
    "created_text",
    "error_for_fault",
    "frame",
    "nonce_bytes",
    "open_transport",
    "password_digest",
    "poll",
    "prepare",
    "query_request",
    "read_page",
    "response_element",
    "since_text",
    "start_since",
    "token",
]

SPEC = AdapterSpec(
    id="drug_admin",
    name_zh="福建省药品智慧监管平台 检查稽查子系统",
    name_en="Fujian Drug Smart Supervision Platform — Inspection and Enforcement subsystem",
    group="self-built",
    summary=(
        "SOAP 1.2 with a WS-Security UsernameToken: inspections and penalty decisions polled, "
        "joint enforcement tasks assigned."
    ),
    config=DrugAdminConfig,
    messages=(
        MessageType(
            "query_inspections",
            "inbound",
            "QueryInspectionsResponse (typed records) or SOAP 1.2 Fault",
            "enforcement.inspection.v1",
        ),
        MessageType(
            "query_penalties",
            "inbound",
            "QueryPenaltiesResponse with ResultXml, or SOAP 1.2 Fault",
            "enforcement.penalty_decision.v1",
        ),
        MessageType(
            "assign_joint_task",
            "outbound",
            "SOAP 1.2 AssignJointTask request",
            "enforcement.inspection.v1",
            response="assign_joint_task_response",
        ),
        MessageType(
            "assign_joint_task_response",
            "inbound",
            "AssignJointTaskResponse or SOAP 1.2 Fault",
            "delivery_outcome",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18095/jcjc/services/InspectionExchange",
        "user_name": "fjzf_bus",
        "password": "Ypjg#Test2024",  # the README's joint-test password (§2.3), test/demo only
    },
    prepare=prepare,
    frame=frame,
    poll=poll,
    connect=open_transport,
)
