"""Test doubles shipped with the bus: a source and a sink system over loopback HTTP.

Not one of the 15 systems and not registered as an entry point: tests build a ``Registry``
with it.

``testkit`` is a small adapter whose inbound message ``subject`` (one JSON object per message,
polled or pushed to its webhook ``/inbound/<system>/subjects`` with an ``X-Kit-Token`` header)
maps to ``enforcement.penalty_decision.v1`` and whose outbound message ``deliver`` POSTs the
canonical envelope as JSON with an ``Idempotency-Key`` header. ``SinkServer`` is the loopback
system that receives those calls: it counts distinct deliveries, and can answer 503 for a while
or 400 for good. ``write_kit_project`` lays out the mappings and the route in a directory, so
tests run the real loader, lint, workers and bus on it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import HttpUrl

from adapters._simulators.http import HttpSimulator, Request, Response
from runner.adapter_api import (
    AdapterConfig,
    AdapterSpec,
    CallContext,
    MessageRejected,
    MessageType,
    Outgoing,
    RawMessage,
    Webhook,
)
from runner.registry import Registry
from schemas.identifiers import uscc_check_char

__all__ = [
    "KitConfig",
    "SinkServer",
    "kit_adapter",
    "kit_registry",
    "make_subject",
    "write_kit_project",
]


class KitConfig(AdapterConfig):
    """Where the sink listens."""

    endpoint: HttpUrl
    webhook_token: str = "kit-token"
    """The ``X-Kit-Token`` header a pushed ``subject`` must carry (the kit's "signature")."""


def _frame(message: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    keys = ",".join(r["message_id"] for r in json.loads(document)["records"])
    return Outgoing(
        document,
        {"content-type": "application/json", "idempotency-keys": keys},
        "POST",
        "/deliver",
    )


def _verify(message: str, raw: RawMessage, config: AdapterConfig) -> None:
    assert isinstance(config, KitConfig)
    if (
        message == "subject"
        and raw.meta.get("path")
        and raw.headers.get("x-kit-token") != config.webhook_token
    ):
        raise MessageRejected("missing or wrong X-Kit-Token", field="X-Kit-Token", rule="signature")


def kit_adapter(connect: Any = None, system: str = "testkit") -> AdapterSpec:
    """The test kit adapter under the id ``system`` (tests that share a broker give each run its
    own id, hence its own queues); ``connect`` opens its HTTP link (pass ``http_connector``)."""
    return AdapterSpec(
        id=system,
        name_zh="测试系统",
        name_en="Test kit",
        group="provincial",
        summary="Loopback source and sink for the runtime's own tests.",
        config=KitConfig,
        messages=(
            MessageType("subject", "inbound", "JSON object", "enforcement.penalty_decision.v1"),
            MessageType(
                "deliver",
                "outbound",
                "POST /deliver",
                "enforcement.penalty_decision.v1",
                response="deliver_response",
            ),
            MessageType("deliver_response", "inbound", "JSON {code}", "delivery_outcome"),
        ),
        frame=_frame,
        connect=connect,
        verify=_verify,
        webhooks=(Webhook(f"/inbound/{system}/subjects", "subject"),),
    )


def kit_registry(connect: Any = None, system: str = "testkit") -> Registry:
    """A registry holding only the test kit (as ``system``)."""
    return Registry([kit_adapter(connect, system)])


_SUBJECT_MAPPING = """\
system: {system}
message: subject
format: json
vars:
  decided_at: {from: decided, transform: [iso_datetime]}
  case_code:
    case_code_of: {division_code: {const: "350100"}, registered_at: {var: decided_at},
                   domain: {const: SC}, case_no: {from: case, transform: [string]}}
outputs:
  - schema: enforcement.penalty_decision.v1
    envelope:
      source_message_id: {from: id, transform: [string]}
      occurred_at: {var: decided_at}
    payload:
      decision_no: {concat: ["榕测罚〔2025〕", {from: id, transform: [string]}, "号"]}
      case_code: {var: case_code}
      party:
        kind: {const: legal_person}
        name: name
        uscc: uscc
        id_type: {const: null}
        id_number: {const: null}
        legal_representative: {const: null}
        address: {const: null}
        division_code: {const: null}
      violation_type: {const: 测试违法行为}
      facts: {const: null}
      legal_basis: {const: []}
      penalty_basis: {const: null}
      penalty_kinds: {const: [fine]}
      fine_amount_yuan: {from: fine, transform: [yuan]}
      confiscated_amount_yuan: {const: null}
      license_affected: {const: null}
      decided_at: {var: decided_at}
      agency:
        name: {const: 福州市市场监督管理局}
        uscc: {const: 11350100MB0F22318E}
        division_code: {const: "350100"}
        domain: {const: SC}
      publicity_until: {const: null}
"""

_DELIVER_MAPPING = """\
system: {system}
message: deliver
source: enforcement.penalty_decision.v1
format: json
batch: {max: 100}
record:
  message_id: message_id
  case_code: case_code
  decision_no: payload.decision_no
  uscc: payload.party.uscc
body:
  records: {var: records}
"""

_ANSWER_MAPPING = """\
system: {system}
message: deliver_response
format: json
answers:
  - when: "code == '0'"
    outcome: {outcome: {const: complete}, code: code, retry_after_s: {const: null},
              records: {const: []}}
  - when: "code == 'RETRY'"
    outcome: {outcome: {const: batch_retry}, code: code, retry_after_s: {const: null},
              records: {const: []}}
  - when: "code != null"
    outcome: {outcome: {const: batch_failed}, code: code, retry_after_s: {const: null},
              records: {const: []}}
"""

_ROUTE = """\
id: {route_id}
description: Test kit penalty decisions to the sink, in order per case.
from: {system: {system}, message: subject}
to:
  - feed: enforcement.penalty_decision.v1
  - system: {system}
    message: deliver
    ordered: true
    retry: {attempts: 4, initial: 200ms, max_delay: 1s, in_process: 1, in_process_max: 50ms}
    breaker: {failures: 50, cooldown: 1s}
"""


def write_kit_project(
    root: Path, route_id: str = "testkit-subjects", system: str = "testkit"
) -> Path:
    """Write the test kit's mappings (for system id ``system``) and route ``route_id`` under
    ``root``; return ``root``."""
    files = {
        f"mappings/{system}/subject.yaml": _SUBJECT_MAPPING,
        f"mappings/{system}/deliver.yaml": _DELIVER_MAPPING,
        f"mappings/{system}/deliver_response.yaml": _ANSWER_MAPPING,
        f"routes/{route_id}.yaml": _ROUTE.replace("{route_id}", route_id),
    }
    files = {name: text.replace("{system}", system) for name, text in files.items()}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _uscc(n: int) -> str:
    body = f"9135010{n:010d}"
    return body + uscc_check_char(body)


def make_subject(n: int, cases: int = 10) -> bytes:
    """The wire bytes of test decision number ``n``: a valid USCC, a stable id, one of
    ``cases`` cases (several decisions share a case, so their order can be checked)."""
    return json.dumps(
        {
            "id": n,
            "case": f"CASE-{n % cases}",
            "name": f"福州测试企业{n}有限公司",
            "uscc": _uscc(n),
            "fine": f"{100 + n}.00",
            "decided": "2025-05-06T09:30:00",
        },
        ensure_ascii=False,
    ).encode()


class SinkServer:
    """The receiving end of ``testkit deliver``, an idempotent destination.

    ``calls`` counts the calls per idempotency key (a key seen twice is a duplicate call, which
    the sink acknowledges without storing again); ``stored`` holds each decision once, and
    ``order`` the decision numbers per case in the order they were stored. Faults are injected
    with ``server.inject``; ``refuse()`` makes every call a permanent refusal (code ``E400``).
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.stored: set[str] = set()
        self.order: dict[str, list[int]] = {}
        self._refuse = False
        self._lock = threading.Lock()
        self.server = HttpSimulator(self._handle)

    def _handle(self, request: Request) -> Response:
        if self._refuse:
            return Response(200, b'{"code":"E400"}', {"content-type": "application/json"})
        with self._lock:
            for record in json.loads(request.body)["records"]:
                key = record["message_id"]
                self.calls[key] += 1
                if key in self.stored:
                    continue  # an idempotent destination: a repeat is acknowledged, not stored
                self.stored.add(key)
                number = int(record["decision_no"].split("〕")[1].removesuffix("号"))
                self.order.setdefault(record["case_code"], []).append(number)
        return Response(200, b'{"code":"0"}', {"content-type": "application/json"})

    def refuse(self) -> None:
        """From now on refuse every call permanently."""
        self._refuse = True

    def accept(self) -> None:
        """From now on accept calls again."""
        self._refuse = False

    @property
    def url(self) -> str:
        """Where the sink listens."""
        return self.server.url

    def __enter__(self) -> SinkServer:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
