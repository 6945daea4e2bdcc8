"""fire_national — 国家消防救援局 消防监督管理系统 (national): national REST with sealed bodies.

The bus uploads fire-safety penalty decisions (``penalties``, ``XF_PENALTY``) and inspection
records (``inspections``, ``XF_INSPECTION``) of units in Fujian with the national code tables,
polls the 督办 tasks the ministry assigns (``tasks``, mapped to ``enforcement.case.v1``) and
acknowledges every task version it mapped (``tasks_ack``). Every request body, the tasks query
and the tasks answer are secure envelopes (README §2.3): the payload SM4-CBC encrypted with the
fixed IV, Base64, signed with HMAC-SM3 (``adapters.fire_national._envelope`` over the shared
``runner.smcrypto``).

How the pieces fit:

- ``mappings/fire_national/*.yaml`` render the plaintext payloads and map the answers; the
  national code tables N1–N8 are under ``mappings/codes/fire_national/``.
- ``SPEC.frame`` seals a rendered payload (timestamp, nonce, sign) and addresses it;
  ``SPEC.connect`` opens the shared HTTP transport (connect 5 s, read 20 s), paced under the
  appId's ``rate_limit`` (60 requests a minute), wrapped so that an upload's answer knows the
  ``dataId`` s it answers; ``SPEC.prepare`` verifies and decrypts the tasks page and wraps
  answers with their HTTP status (``adapters.fire_national._wire``).
- ``SPEC.poll`` is one cycle of §2.7 (``adapters.fire_national._poll``).
- ``adapters.fire_national.simulator`` is the national platform on loopback, for tests and the
  demo (``adapters.fire_national.demo``).

Example (route destinations)::

    to:
      - {system: fire_national, message: penalties, batch: 100}
      - {system: fire_national, message: tasks_ack, batch: 50}
"""

from __future__ import annotations

from adapters.fire_national._config import FireNationalConfig
from adapters.fire_national._poll import poll
from adapters.fire_national._transforms import TRANSFORMS
from adapters.fire_national._wire import frame, open_transport, prepare
from runner.adapter_api import AdapterSpec, MessageType

__all__ = ["DEMO_CONFIG", "SPEC", "FireNationalConfig"]

DEMO_CONFIG = {
    "endpoint": "http://127.0.0.1:18119",
    "app_id": "FJ35XFJD0001",
    # the README's joint-test credentials (§2.2): demo and test config only
    "app_secret": "b7e2c91f4a6d3058e1f9a2c7d4b60e83",
    "sm4_key": "3a7c9e1f5b2d4068a1c3e5f7092b4d6f",
    "sm4_iv": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
}
"""The joint-test settings: the dry runs (``ebus map``, ``ebus render``) and the demo use them."""

SPEC = AdapterSpec(
    id="fire_national",
    name_zh="国家消防救援局 消防监督管理系统（全国消防监督管理信息平台）省级数据交换接口",
    name_en=(
        "National Fire and Rescue Administration — fire supervision management system, "
        "provincial data-exchange interface"
    ),
    group="national",
    summary=(
        "National REST with SM4-CBC encrypted, HMAC-SM3 signed bodies: fire penalty decisions "
        "and inspections uploaded, 督办 tasks polled and acknowledged."
    ),
    config=FireNationalConfig,
    messages=(
        MessageType(
            "penalties",
            "outbound",
            "POST /api/v2/province/35/penalties, secure envelope, payload XF_PENALTY",
            "enforcement.penalty_decision.v1",
            response="upload_response",
        ),
        MessageType(
            "inspections",
            "outbound",
            "POST /api/v2/province/35/inspections, secure envelope, payload XF_INSPECTION",
            "enforcement.inspection.v1",
            response="upload_response",
        ),
        MessageType(
            "tasks",
            "inbound",
            "answer to GET /api/v2/province/35/tasks: secure envelope with the task page",
            "enforcement.case.v1",
        ),
        MessageType(
            "tasks_ack",
            "outbound",
            "POST /api/v2/province/35/tasks/ack, secure envelope, payload XF_TASK_ACK",
            "enforcement.case.v1",
            response="upload_response",
        ),
        MessageType(
            "upload_response",
            "inbound",
            "plain JSON {code,msg,requestId,data} answering any POST",
            "delivery_outcome",
        ),
    ),
    demo_config=DEMO_CONFIG,
    prepare=prepare,
    frame=frame,
    transforms=TRANSFORMS,
    poll=poll,
    connect=open_transport,
)
