"""joint_punishment — 福建省失信被执行人联合惩戒系统 (provincial): dishonest-debtor checks and
measure feedback over OAuth2-protected JSON REST.

The bus checks 1..50 subjects per call against the list of 失信被执行人 (``dishonest_query``,
built from the adapter input ``{request_id, agency, scene, subjects[]}``); each checked subject of
the answer becomes one ``enforcement.dishonest_check.v1`` (``dishonest_query_response``). It
reports the measures an agency applied (措施反馈, ``feedback``, from a platform
``enforcement.dishonest_check.v1``), idempotent on ``feedbackId`` = the envelope's
``message_id``; its answer is a delivery outcome (``feedback_response``).

How the pieces fit:

- ``mappings/joint_punishment/*.yaml`` render the bodies and map the answers; code tables are
  under ``mappings/codes/joint_punishment/``; ``SPEC.transforms`` adds the few transforms they
  need (``adapters.joint_punishment.transforms``).
- ``SPEC.frame`` adds path, ``X-Request-Id`` and the JSON headers (``adapters.joint_punishment
  .wire``); ``SPEC.connect`` opens an ``OAuthConnection`` (``adapters.joint_punishment.token``)
  that obtains the client-credentials token (``token_request`` / ``token_response``, README
  §2.2), caches it per client, adds ``Authorization: Bearer …``, and on HTTP 401 or code
  40101/40102 refreshes once and resends.
- ``SPEC.prepare`` wraps every answer as ``{"http_status", "retry_after", "body", "results"}``
  so that the answer mappings see the HTTP status and ``Retry-After``. Dry runs pass them with
  ``ebus map joint_punishment feedback_response FILE --status 401``.
- ``adapters.joint_punishment.simulator`` is the system on loopback, for tests and the demo.

Example (a route destination)::

    to:
      - {system: joint_punishment, message: feedback, retry: {attempts: 10, max_delay: 30m}}
"""

from __future__ import annotations

from adapters.joint_punishment.config import JointPunishmentConfig
from adapters.joint_punishment.token import open_connection, open_shared_connection
from adapters.joint_punishment.transforms import TRANSFORMS
from adapters.joint_punishment.wire import frame, prepare
from runner.adapter_api import AdapterSpec, MessageType

__all__ = ["SPEC", "JointPunishmentConfig"]

SPEC = AdapterSpec(
    id="joint_punishment",
    name_zh="福建省失信被执行人联合惩戒系统",
    name_en="Fujian joint-punishment system for dishonest judgment debtors",
    group="provincial",
    summary="OAuth2 JSON REST: subjects checked for dishonest debtors, applied measures reported.",
    config=JointPunishmentConfig,
    messages=(
        MessageType(
            "token_request",
            "outbound",
            "POST /oauth/token, form body (client credentials, the connection's own call)",
            None,
            response="token_response",
        ),
        MessageType(
            "token_response",
            "inbound",
            "OAuth2 token JSON, 7200 s (read by the connection, never mapped)",
            None,
        ),
        MessageType(
            "dishonest_query",
            "outbound",
            "POST /api/v1/dishonest/query, JSON: check 1..50 subjects",
            "dishonest_query",
            response="dishonest_query_response",
        ),
        MessageType(
            "dishonest_query_response",
            "inbound",
            "JSON {code,msg,queryId,queryTime,results[]}",
            "enforcement.dishonest_check.v1",
        ),
        MessageType(
            "feedback",
            "outbound",
            "POST /api/v1/feedback, JSON: measures applied in a case (措施反馈)",
            "enforcement.dishonest_check.v1",
            response="feedback_response",
        ),
        MessageType(
            "feedback_response",
            "inbound",
            "JSON acknowledgement {code,msg,data:{feedbackNo,duplicate}}",
            "delivery_outcome",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18084",
        "client_id": "mzf-esb",
        "client_secret": "Qm9zc0hvZ2dAMjAyNCNmaiFlc2I",  # the README's test credentials (§2.2)
    },
    prepare=prepare,
    frame=frame,
    transforms=TRANSFORMS,
    connect=open_connection,
    connect_shared=open_shared_connection,
)
