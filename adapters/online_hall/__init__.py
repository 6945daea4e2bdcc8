"""online_hall — 福建省网上办事大厅 (provincial): licence decisions and delivery receipts pushed.

The hall (网上办事大厅, 闽政通·一网通办) pushes two kinds of events to the bus's webhook
endpoint (README §2.1): 行政许可决定 (``XKJD``) to ``POST /inbound/online_hall/licenses`` and
电子送达回执 (``SDHZ``) to ``POST /inbound/online_hall/deliveries``. Each becomes one
``enforcement.license_decision.v1`` or ``enforcement.delivery_receipt.v1``.

How the pieces fit:

- ``SPEC.webhooks`` tells the bus which path is which message type; the webhook endpoint
  (``runner.engine.webhooks``) reads the body, runs ``SPEC.verify`` (HMAC-SHA256 over the raw
  bytes, BOM included → 401 when missing or wrong), then recognises a resend by
  ``X-Hall-Event-Id`` (= ``source_message_id``) before anything else (§2.4 step 3: 200
  duplicate), then ``SPEC.prepare`` and the mapping (→ 422), and stores the request before it
  answers 200.
- ``SPEC.answer`` (``adapters.online_hall._answers``) writes the answers of README §5 byte for
  byte: ``{"code":"0","msg":"accepted","eventId":"…"}``, ``duplicate``, ``bad signature``, and a
  422 with the short reason and the wire name of the field.
- ``SPEC.prepare`` (``adapters.online_hall._wire``) checks eventId against its header and
  eventType against the path, and normalises ``data`` (key case Q6, ``"null"`` Q2, numbers Q8).
- ``mappings/online_hall/*.yaml`` map the two events; code tables are under
  ``mappings/codes/online_hall/``; their ``zero_pad`` and ``strict_time`` are shared transforms.
- ``adapters.online_hall.simulator`` is the hall's notifier on loopback: it signs and pushes
  events, resends on the README's schedule and records the answers (tests, ``make demo``).

Example (settings and route)::

    webhook: {host: 0.0.0.0, port: 8443, tls_cert: /etc/ebus/tls.pem, tls_key: /etc/ebus/tls.key}
    systems:
      online_hall: {secret: ${EBUS_ONLINE_HALL_SECRET}}

    # routes/online_hall-licenses.yaml
    from: {system: online_hall, message: license_webhook}
    to: [{feed: enforcement.license_decision.v1}]
"""

from __future__ import annotations

from adapters.online_hall._answers import answer
from adapters.online_hall._config import DEMO_SECRET, OnlineHallConfig
from adapters.online_hall._wire import EVENT_ID, prepare, verify
from runner.adapter_api import AdapterSpec, MessageType, Webhook

__all__ = ["DELIVERIES_PATH", "LICENSES_PATH", "SPEC", "OnlineHallConfig"]

LICENSES_PATH = "/inbound/online_hall/licenses"
DELIVERIES_PATH = "/inbound/online_hall/deliveries"

SPEC = AdapterSpec(
    id="online_hall",
    name_zh="福建省网上办事大厅（闽政通·一网通办）事件推送服务",
    name_en="Fujian provincial online government service hall — event push (webhook)",
    group="provincial",
    summary="Signed JSON webhooks (HMAC-SHA256): 行政许可决定 and 电子送达回执 pushed to the bus.",
    config=OnlineHallConfig,
    messages=(
        MessageType(
            "license_webhook",
            "inbound",
            f"POST {LICENSES_PATH}, eventType XKJD 行政许可决定, JSON",
            "enforcement.license_decision.v1",
        ),
        MessageType(
            "delivery_webhook",
            "inbound",
            f"POST {DELIVERIES_PATH}, eventType SDHZ 电子送达回执, JSON",
            "enforcement.delivery_receipt.v1",
        ),
    ),
    demo_config={"secret": DEMO_SECRET},  # the README's test-environment secret (§2.3)
    verify=verify,
    prepare=prepare,
    webhooks=(
        Webhook(LICENSES_PATH, "license_webhook", source_id_header=EVENT_ID),
        Webhook(DELIVERIES_PATH, "delivery_webhook", source_id_header=EVENT_ID),
    ),
    answer=answer,
)
