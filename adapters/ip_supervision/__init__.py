"""ip_supervision — 福建省"互联网+监管"系统 (provincial): 监管行为 (supervision behaviour) intake.

The bus uploads 行政检查行为 (``upload_inspection``, dataType ``XZJC``, from
``enforcement.inspection.v1``) and 行政处罚行为 (``upload_penalty``, ``XZCF``, from
``enforcement.penalty_decision.v1``), 1..200 messages per call, with one SOAP 1.1 operation
(JAX-WS / Apache CXF): ``uploadSupervisionData(appId, dataType, xmlData)``. The system never
pushes to the bus; its answer (``upload_response``) is a delivery outcome.

How the pieces fit:

- ``mappings/ip_supervision/upload_{inspection,penalty}.yaml`` render the inner document
  ``xmlData``: declared GBK, encoded with ``gbk-ncr`` (``adapters.ip_supervision._gbk``:
  characters outside GBK as ``&#xHEX;``, quirk Q2), 监管事项 from the operator's table
  ``mappings/codes/ip_supervision/supervision_items.yaml`` (README §2.5). Natural persons are
  sent unmasked (a supervision system, not a publicity destination): the call carries L3 data
  and ``xmlData`` is never logged.
- ``SPEC.variables`` gives ``app_id`` and ``send_time`` (the AuthHeader timestamp);
  ``SPEC.frame`` numbers the records (``SEQ``), signs (HMAC-SHA256 over the **GBK** SHA-256 of
  ``xmlData``, ``adapters.ip_supervision._signing``) and builds the envelope from the WSDL
  with the shared ``SoapService``.
- ``SPEC.connect`` opens ``SupervisionConnection`` on the shared, paced HTTP transport: at most 5
  calls/s, a resend never reuses a nonce, and each answer carries the ``XWBH`` sent per
  ``SEQ``; ``SPEC.prepare`` wraps the answer with its HTTP status and the call
  (``adapters.ip_supervision._answers``) for ``mappings/ip_supervision/upload_response.yaml``.
- ``adapters.ip_supervision.simulator`` is the service on loopback, for tests and the demo.

Example (a route destination)::

    to:
      - {system: ip_supervision, message: upload_penalty, batch: 200}
"""

from __future__ import annotations

from adapters.ip_supervision._answers import prepare
from adapters.ip_supervision._calls import (
    DATA_TYPES,
    SERVICE,
    SupervisionConnection,
    frame,
    open_connection,
    read_call,
    upload_request,
    variables,
)
from adapters.ip_supervision._config import IpSupervisionConfig
from adapters.ip_supervision._gbk import encode_gbk, register
from adapters.ip_supervision._signing import sign
from adapters.ip_supervision._transforms import TRANSFORMS
from runner.adapter_api import AdapterSpec, MessageType

__all__ = [
    "DATA_TYPES",
    "SERVICE",
    "SPEC",
    "IpSupervisionConfig",
    "SupervisionConnection",
    "encode_gbk",
    "frame",
    "open_connection",
    "prepare",
    "read_call",
    "sign",
    "upload_request",
    "variables",
]

register()  # the mappings' ``encoding: gbk-ncr`` (see adapters.ip_supervision._gbk)

SPEC = AdapterSpec(
    id="ip_supervision",
    name_zh='福建省"互联网+监管"系统',
    name_en='Fujian "Internet + Supervision" system',
    group="provincial",
    summary="SOAP 1.1 (CXF), signed: inspections and penalties uploaded as GBK xmlData batches.",
    config=IpSupervisionConfig,
    messages=(
        MessageType(
            "upload_inspection",
            "outbound",
            "SOAP uploadSupervisionData, dataType XZJC, GBK xmlData",
            "enforcement.inspection.v1",
            response="upload_response",
        ),
        MessageType(
            "upload_penalty",
            "outbound",
            "SOAP uploadSupervisionData, dataType XZCF, GBK xmlData",
            "enforcement.penalty_decision.v1",
            response="upload_response",
        ),
        MessageType(
            "upload_response",
            "inbound",
            "uploadSupervisionDataResponse, SOAP Fault or HTTP 503",
            "delivery_outcome",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18089/jgxw/services/SupervisionDataService",
        "app_id": "FJMZF0001",
        "app_secret": "b6e1d4a9c2f74e0b8a3d5c7e9f1a2b4c",  # README §2.3 test-environment secret
    },
    prepare=prepare,
    frame=frame,
    variables=variables,
    transforms=TRANSFORMS,
    connect=open_connection,
)
