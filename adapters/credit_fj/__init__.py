"""credit_fj — 信用福建 公共信用信息平台 (provincial): 双公示 pushes and subject credit lookups.

The bus pushes 行政处罚 (``penalty_push``) and 行政许可 (``license_push``) decisions in JSON
batches of 1..100 records, masked for publicity, and looks subjects up by USCC
(``subject_lookup_request``). Every call is signed (README §2.3, ``adapters.credit_fj.signing``):
``X-App-Key``, ``X-Timestamp`` (epoch ms), ``X-Nonce`` and ``X-Sign`` = SM3 over
secret + method + path + timestamp + nonce + SHA-256(body).

How the pieces fit:

- ``mappings/credit_fj/*.yaml`` render the bodies and map the answers; code tables are under
  ``mappings/codes/credit_fj/``.
- ``SPEC.variables`` gives the push mappings ``batch_no`` = ``MZF`` + yyyyMMddHHmmss +
  4-digit ``CallContext.sequence``, from the time the batch was first sent
  (``CallContext.first_sent``): a batch resent after a timeout keeps its ``batchNo`` and is
  framed again (new timestamp, nonce and signature).
- ``SPEC.frame`` adds method, path and the signed headers (``adapters.credit_fj.wire``);
  ``SPEC.connect`` opens the shared HTTP transport at ``endpoint`` (connect 5 s, read 30 s),
  paced under ``rate_limit`` (5 requests/s per app key, ``adapters._transports.pacing``).
- ``SPEC.prepare`` wraps every answer as ``{"http_status", "retry_after", "requested_uscc",
  "body"}`` so that the answer mappings can see the HTTP status and ``Retry-After``
  (HTML 503 pages → ``batch_retry`` ``HTTP503``; 429 → ``retry_after_s``). Dry runs pass them
  with ``ebus map credit_fj push_response FILE --status 503 --header Retry-After=30``.
- ``adapters.credit_fj.simulator`` is the platform on loopback, for tests and the demo.

Example (a route destination)::

    to:
      - {system: credit_fj, message: penalty_push, retry: {attempts: 10, max_delay: 30m}}
"""

from __future__ import annotations

from adapters.credit_fj.config import CreditFjConfig
from adapters.credit_fj.transforms import TRANSFORMS
from adapters.credit_fj.wire import frame, open_transport, prepare, variables
from runner.adapter_api import AdapterSpec, MessageType

__all__ = ["SPEC", "CreditFjConfig"]

SPEC = AdapterSpec(
    id="credit_fj",
    name_zh="福建省公共信用信息平台（信用福建）",
    name_en='Fujian Provincial Public Credit Information Platform ("Credit Fujian")',
    group="provincial",
    summary="Signed JSON REST: 双公示 penalty and licence batches pushed, subjects looked up.",
    config=CreditFjConfig,
    messages=(
        MessageType(
            "penalty_push",
            "outbound",
            "POST /api/sgs/v2/penalties, JSON batch XZCF",
            "enforcement.penalty_decision.v1",
            response="push_response",
        ),
        MessageType(
            "license_push",
            "outbound",
            "POST /api/sgs/v2/licenses, JSON batch XZXK",
            "enforcement.license_decision.v1",
            response="push_response",
        ),
        MessageType(
            "push_response",
            "inbound",
            "JSON {code,msg,requestId,data} or an HTML error page",
            "delivery_outcome",
        ),
        MessageType(
            "subject_lookup_request",
            "outbound",
            "GET /api/credit/v1/subjects/{uscc}",
            "subject_lookup",
            response="subject_lookup_response",
        ),
        MessageType(
            "subject_lookup_response",
            "inbound",
            "JSON {code,msg,requestId,data}",
            "enforcement.credit_subject.v1",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18082",
        "app_key": "MZF-ESB-350000-01",
        "app_secret": "7d3f9a2c41be4e8a9c06f5b1e2d87a43",  # the README's joint-test secret
    },
    prepare=prepare,
    frame=frame,
    variables=variables,
    transforms=TRANSFORMS,
    connect=open_transport,
)
