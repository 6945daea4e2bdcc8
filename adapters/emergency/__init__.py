"""emergency — 福建省应急管理综合行政执法系统 (YJZF, self-built): XML pushed over HTTP POST.

The emergency system pushes one ``<YJZFMessage>`` per request to ``POST /inbound/emergency``
(README §2.1): a 安全生产执法检查记录 (``safety_inspection``, ``<JCJL>``) or a 行政处罚决定
(``penalty_decision``, ``<CFJD>``). The bus answers synchronously with an ``<Ack>`` (``ack``).

- ``SPEC.verify`` checks the HMAC-SHA256 request signature over the raw body (§2.4) and, on the
  live endpoint, the ±300 s timestamp window and the 15-minute nonce memory (``_signing``).
- ``SPEC.prepare`` decides the encoding from the bytes (BOM, else the declaration: GB2312 / GBK
  are decoded as GB18030; the HTTP charset is ignored, §2.3), parses with the hardened parser,
  checks the structure against ``yjzf.xsd`` and the Head, and hands UTF-8 to the mapping
  (``_wire``).
- ``SPEC.answer`` renders the ``<Ack>`` per verdict: code 0 / 1 / 2 / 9 with HTTP 200, 401 or
  413, and a Chinese reason naming the element and the rule, never a value (``_ack``). A msgId
  reused for another body (code 2, §2.5) is told from a resend by the SHA-256 of the body first
  accepted: kept in the bus's durable digest store while the webhook endpoint serves
  (``SPEC.bind_store``), in this process only otherwise. The verifier's nonce memory is bound
  with it: a replay to another bus process, or after a restart, is refused too.
- The value rules are transforms: ``null`` in any case and ``WFYJ`` split per 《…》 are the
  shared ``null_any_case`` and ``legal_basis_list``; the three date and datetime spellings and
  万元 with up to six decimals are this adapter's (``transforms``).

Both message types arrive on one path; ``message_type_of`` reads ``Head/msgType`` to tell them
apart. ``adapters.emergency.simulator`` is the sender (the YJZF client) for tests and the demo.

Example (routes)::

    from: {system: emergency, message: penalty_decision}
    to:   [{feed: enforcement.penalty_decision.v1}, {system: credit_fj, message: penalty_push}]
"""

from __future__ import annotations

from adapters.emergency._ack import (
    AckMemory,
    Answerer,
    DigestMemory,
    StoredMemory,
    answer,
    render_ack,
    wire_reason,
)
from adapters.emergency._config import APP_ID, EmergencyConfig
from adapters.emergency._signing import NonceCache, Verifier, sign, signed_headers, verify
from adapters.emergency._wire import decode_body, message_type_of, msg_id_of, prepare
from adapters.emergency.transforms import TRANSFORMS
from runner.adapter_api import AdapterSpec, DigestStore, MessageType, Webhook

__all__ = [
    "APP_ID",
    "PATH",
    "SPEC",
    "AckMemory",
    "Answerer",
    "DigestMemory",
    "EmergencyConfig",
    "NonceCache",
    "StoredMemory",
    "Verifier",
    "answer",
    "bind_store",
    "decode_body",
    "message_type_of",
    "msg_id_of",
    "prepare",
    "render_ack",
    "sign",
    "signed_headers",
    "verify",
    "wire_reason",
]

PATH = "/inbound/emergency"
"""The one endpoint both message types are pushed to (README §2.1)."""


def bind_store(store: DigestStore | None) -> None:
    """``SPEC.bind_store``: the answer's msgId body memory and the verifier's nonce memory in the
    bus's durable store while the webhook endpoint serves (None: this process's memory)."""
    answer.use_store(store)
    verify.use_store(store)


SPEC = AdapterSpec(
    id="emergency",
    name_zh="福建省应急管理综合行政执法系统",
    name_en="Fujian emergency management comprehensive administrative enforcement system",
    group="self-built",
    summary="Pushes signed XML (UTF-8 or GB2312-labelled GBK) over HTTP POST; the bus acks in XML.",
    config=EmergencyConfig,
    messages=(
        MessageType(
            "safety_inspection",
            "inbound",
            "POST /inbound/emergency <YJZFMessage> msgType SAFETY_INSPECTION <Body><JCJL>",
            "enforcement.inspection.v1",
        ),
        MessageType(
            "penalty_decision",
            "inbound",
            "POST /inbound/emergency <YJZFMessage> msgType PENALTY_DECISION <Body><CFJD>",
            "enforcement.penalty_decision.v1",
        ),
        MessageType("ack", "outbound", "<Ack> document, the HTTP answer to a push (§2.5, §5)"),
    ),
    demo_config={"app_id": APP_ID, "app_secret": "yjzf-fj-test-secret-2024"},
    verify=verify,
    prepare=prepare,
    transforms=TRANSFORMS,
    webhooks=(
        Webhook(PATH, "safety_inspection"),
        Webhook(PATH, "penalty_decision"),
    ),
    answer=answer,
    bind_store=bind_store,
    webhook_message=lambda raw: message_type_of(raw.body),
)
