"""Test doubles shipped with the bus: a source and a sink system over loopback HTTP.

Not one of the 15 systems and not registered as an entry point: tests build a ``Registry``
with it.

``testkit`` is a small adapter whose inbound message ``subject`` (one JSON object per message)
maps to ``enforcement.credit_subject.v1`` and whose outbound message ``deliver`` POSTs the
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
from runner.adapter_api import AdapterConfig, AdapterSpec, CallContext, MessageType, Outgoing
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


def _frame(message: str, document: bytes, config: AdapterConfig, call: CallContext) -> Outgoing:
    key = json.loads(document)["message_id"]
    return Outgoing(
        document, {"content-type": "application/json", "idempotency-key": key}, "POST", "/deliver"
    )


def kit_adapter(connect: Any = None) -> AdapterSpec:
    """The ``testkit`` adapter; ``connect`` opens its HTTP link (pass ``http_connector``)."""
    return AdapterSpec(
        id="testkit",
        name_zh="测试系统",
        name_en="Test kit",
        group="provincial",
        summary="Loopback source and sink for the runtime's own tests.",
        config=KitConfig,
        messages=(
            MessageType("subject", "inbound", "JSON object", "enforcement.credit_subject.v1"),
            MessageType(
                "deliver",
                "outbound",
                "POST /deliver",
                "enforcement.credit_subject.v1",
                response="deliver_response",
            ),
            MessageType("deliver_response", "inbound", "JSON {code}", "delivery_outcome"),
        ),
        frame=_frame,
        connect=connect,
    )


def kit_registry(connect: Any = None) -> Registry:
    """A registry holding only the test kit."""
    return Registry([kit_adapter(connect)])


_SUBJECT_MAPPING = """\
system: testkit
message: subject
format: json
outputs:
  - schema: enforcement.credit_subject.v1
    envelope:
      source_message_id: {from: id, transform: [string]}
      occurred_at: {from: updated, transform: [iso_datetime]}
    payload:
      party:
        kind: {const: legal_person}
        name: name
        uscc: uscc
        id_type: {const: null}
        id_number: {const: null}
        legal_representative: {const: null}
        address: {const: null}
        division_code: {const: null}
      registration_status: {const: active}
      credit_level: level
      credit_rated_on: {const: null}
      registration_authority: {const: null}
      updated_at: {from: updated, transform: [iso_datetime]}
"""

_DELIVER_MAPPING = """\
system: testkit
message: deliver
source: enforcement.credit_subject.v1
format: json
body:
  message_id: message_id
  case_code: case_code
  uscc: payload.party.uscc
  name: payload.party.name
"""

_ANSWER_MAPPING = """\
system: testkit
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
id: testkit-subjects
description: Test kit subjects to the sink, in order per case.
from: {system: testkit, message: subject}
to:
  - feed: enforcement.credit_subject.v1
  - system: testkit
    message: deliver
    retry: {attempts: 4, initial: 200ms, max_delay: 1s, in_process: 1, in_process_max: 50ms}
    breaker: {failures: 50, cooldown: 1s}
"""


def write_kit_project(root: Path) -> Path:
    """Write the test kit's mappings and route under ``root``; return ``root``."""
    files = {
        "mappings/testkit/subject.yaml": _SUBJECT_MAPPING,
        "mappings/testkit/deliver.yaml": _DELIVER_MAPPING,
        "mappings/testkit/deliver_response.yaml": _ANSWER_MAPPING,
        "routes/testkit-subjects.yaml": _ROUTE,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _uscc(n: int) -> str:
    body = f"9135010{n:010d}"
    return body + uscc_check_char(body)


def make_subject(n: int) -> bytes:
    """The wire bytes of test subject number ``n`` (a valid USCC, a stable id)."""
    return json.dumps(
        {
            "id": n,
            "name": f"福州测试企业{n}有限公司",
            "uscc": _uscc(n),
            "level": "ABCD"[n % 4],
            "updated": "2025-05-06T09:30:00",
        },
        ensure_ascii=False,
    ).encode()


class SinkServer:
    """The receiving end of ``testkit deliver``: counts deliveries per idempotency key.

    ``fail_with(status, times)`` answers the next calls with an HTTP status; ``refuse()`` makes
    every call a permanent 400-style refusal (answer code ``E400``).
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.order: list[str] = []
        self._refuse = False
        self._lock = threading.Lock()
        self.server = HttpSimulator(self._handle)

    def _handle(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key", "")
        if self._refuse:
            return Response(200, b'{"code":"E400"}', {"content-type": "application/json"})
        with self._lock:
            self.calls[key] += 1
            self.order.append(json.loads(request.body)["uscc"])
        return Response(200, b'{"code":"0"}', {"content-type": "application/json"})

    def refuse(self) -> None:
        """From now on refuse every call permanently."""
        self._refuse = True

    @property
    def url(self) -> str:
        """Where the sink listens."""
        return self.server.url

    def __enter__(self) -> SinkServer:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
