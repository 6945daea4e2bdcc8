"""health — 福建省卫生健康监督执法信息系统 (卫健 self-built system): cases polled over REST.

The bus polls ``GET /api/supervision/cases`` (``SPEC.poll``, README §2.1) with an inclusive
``updatedSince`` high-water mark (epoch ms) and 0-based pages; every record version it forwards
becomes one ``enforcement.case.v1`` and, when it carries a decision, one
``enforcement.penalty_decision.v1`` (README §3). The system is read-only: nothing is sent back.

How the pieces fit:

- ``mappings/health/cases_page.yaml`` maps a page (camelCase JSON, money in 分, epoch-ms times,
  quirks Q1-Q10) and error answers (§5, delivery outcomes); code tables T2..T7 are under
  ``mappings/codes/health/``.
- ``SPEC.poll`` (``adapters.health.poll``) pages through the records updated since the HWM,
  forwards each record version only if it is newer than the version stored for its ``id``
  (``ctx.recall`` / ``ctx.remember``, README §2.2: equal = duplicate, lower = stale replica
  read, Q3), and commits the new HWM after the last page.
- ``SPEC.prepare`` (``adapters.health.wire``) wraps each answer as
  ``{"http_status", "retry_after", "body"}`` with a BOM dropped (Q7) and ``"null"`` strings as
  null (Q8). Dry runs pass the status with ``ebus map health cases_page FILE --meta status=429``.
- ``SPEC.connect`` (``adapters.health.transport``) opens the shared HTTP transport with mutual
  TLS, paced to 5 requests a second, holding back after a 429 for ``Retry-After`` seconds.
- ``adapters.health.simulator`` is the API on loopback, for tests and the demo.

Example (routes)::

    from: {system: health, message: cases_page}          # SPEC.poll emits it
    steps: [{filter: "schema == 'enforcement.case.v1'"}]
    to: [{feed: enforcement.case.v1}]
"""

from __future__ import annotations

from adapters._transports.ratelimit import sharing_waits
from adapters.health.config import TEST_API_KEY, HealthConfig
from adapters.health.poll import poll
from adapters.health.transforms import TRANSFORMS
from adapters.health.transport import open_transport
from adapters.health.wire import prepare
from runner.adapter_api import AdapterSpec, MessageType

__all__ = ["SPEC", "HealthConfig"]

SPEC = AdapterSpec(
    id="health",
    name_zh="福建省卫生健康监督执法信息系统 案件数据开放接口",
    name_en="Fujian health supervision and enforcement information system — case data API",
    group="self-built",
    summary=(
        "mTLS + X-Api-Key REST, polled by updateTime high-water mark; versioned case records "
        "to cases and penalty decisions, stale versions ignored."
    ),
    config=HealthConfig,
    messages=(
        # Each record version gives enforcement.case.v1, then enforcement.penalty_decision.v1
        # when it carries a decision. MessageType.canonical holds one schema and lint checks
        # every route of the message against it, so it is left None (no single schema) until
        # the adapter API can name two; routes select a schema with a filter step.
        MessageType(
            "cases_page",
            "inbound",
            "JSON body of GET /api/supervision/cases (one record per emitted page) → "
            "enforcement.case.v1 + enforcement.penalty_decision.v1; an error answer → "
            "delivery outcome",
            None,
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18405",
        "api_key": TEST_API_KEY,  # the README's published test key (§2)
        "initial_since": "2025-01-01T00:00:00+08:00",
    },
    prepare=prepare,
    transforms=TRANSFORMS,
    poll=poll,
    connect=open_transport,
    connect_shared=sharing_waits(open_transport),
)
