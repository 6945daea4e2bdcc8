"""hotline_12345 — 省12345便民服务平台 (provincial): work orders (工单) polled, 签收/办结反馈 sent.

The bus holds one subscription (订阅) for every agency connected to 闽执法 and polls the
dispatched work orders with an opaque cursor (``SPEC.poll``, README §2.1); each dispatch
becomes one ``enforcement.clue.v1``. Every clue is accepted (签收, ``accept``) right after it is
committed, and every ``complaint_check`` inspection of a 12345 work order is reported back
(办结反馈, ``feedback``). JSON over HTTPS with a Bearer API key; no request signing (v3).

How the pieces fit:

- ``mappings/hotline_12345/*.yaml`` map the work orders and the answers and render the two
  POST bodies; code tables T1..T4 are under ``mappings/codes/hotline_12345/``.
- ``SPEC.frame`` (``adapters.hotline_12345.wire``) builds the POSTs: path from the work order,
  body bytes exactly as the gateway compares them, ``X-Request-Id`` =
  ``<source_message_id>/accept`` (or ``/feedback``) so that a resent call carries the same id.
- ``SPEC.prepare`` wraps every answer as ``{"http_status", "retry_after", "gdbh", "body"}`` so
  the mappings see the HTTP status, ``Retry-After`` and the work order of the call (README §7);
  it also normalises the work orders of a page (lower-case keys Q1, ``"null"`` Q2). Dry runs
  pass them with ``ebus map hotline_12345 accept_response FILE --status 409
  --meta path=/api/v3/workorders/GD202503110004521/accept``.
- ``SPEC.connect`` opens the shared HTTP transport (connect 5 s, read 30 s), paced under the
  key's ``rate_limit`` (600 a minute, 20 a second), behind a per-key rate-limit gate
  (``adapters.hotline_12345.transport``): after a 429 no request with that key is sent for
  ``Retry-After`` seconds, after ``1103`` for 10 minutes.
- ``adapters.hotline_12345.simulator`` is the platform on loopback, for tests and the demo.

Example (routes)::

    from: {system: hotline_12345, message: workorders_page}     # SPEC.poll emits it
    to:
      - feed: enforcement.clue.v1
      - {system: hotline_12345, message: accept}
"""

from __future__ import annotations

from adapters._transports.ratelimit import sharing_waits
from adapters.hotline_12345.config import Hotline12345Config
from adapters.hotline_12345.poll import poll
from adapters.hotline_12345.transport import open_transport
from adapters.hotline_12345.wire import frame, prepare
from runner.adapter_api import AdapterSpec, MessageType

__all__ = ["SPEC", "Hotline12345Config"]

SPEC = AdapterSpec(
    id="hotline_12345",
    name_zh="福建省12345便民服务平台(政务服务便民热线) 工单开放接口 v3",
    name_en="Fujian Provincial 12345 Citizen Service Hotline Platform — Work-Order Open API v3",
    group="provincial",
    summary="Bearer-key JSON REST: work orders polled by cursor, 签收 and 办结反馈 posted.",
    config=Hotline12345Config,
    messages=(
        MessageType(
            "workorders_page",
            "inbound",
            "JSON answer to GET /api/v3/workorders (one item per dispatch)",
            "enforcement.clue.v1",
        ),
        MessageType(
            "accept",
            "outbound",
            "POST /api/v3/workorders/{GDBH}/accept, JSON",
            "enforcement.clue.v1",
            response="accept_response",
        ),
        MessageType(
            "accept_response",
            "inbound",
            "JSON {code,msg,data} answering accept",
            "delivery_outcome",
        ),
        MessageType(
            "feedback",
            "outbound",
            "POST /api/v3/workorders/{GDBH}/feedback, JSON",
            "enforcement.inspection.v1",
            response="feedback_response",
        ),
        MessageType(
            "feedback_response",
            "inbound",
            "JSON {code,msg} answering feedback",
            "delivery_outcome",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18345",
        "api_key": "fj12345_test_7Qm2xR9vL4kP8sT1",  # the README's published test key (§2)
        "initial_cursor": "ZmoxMjM0NXxzdWI9Zmp6ZnxzZXE9ODgwNDEyfA==",  # README §9, page-1's
    },
    prepare=prepare,
    frame=frame,
    poll=poll,
    connect=open_transport,
    connect_shared=sharing_waits(open_transport),
)
