"""The webhook endpoint over loopback HTTP: store then answer, resends, refusals, limits."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from adapters._testkit import SinkServer, make_subject
from runner.bus.topology import inbound_queue
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.engine.webhooks import WebhookServer
from runner.settings import WebhookSettings
from tests.runner.engine.conftest import wait_for

TOKEN = {"X-Kit-Token": "kit-token"}


@pytest.fixture
def runtime(services: Services) -> Iterator[Runtime]:
    runtime = Runtime(services)
    runtime.prepare()
    yield runtime
    runtime.shutdown()


@pytest.fixture
def endpoint(services: Services, runtime: Runtime) -> Iterator[WebhookServer]:
    server = WebhookServer(services, WebhookSettings(port=0, max_body_bytes=64 * 1024))
    server.start()
    yield server
    server.stop()


def _post(
    server: WebhookServer, system: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return httpx.post(f"{server.url}/inbound/{system}/subjects", content=body, headers=headers)


def test_a_stored_request_is_accepted_then_delivered_once_despite_resends(
    endpoint: WebhookServer, runtime: Runtime, services: Services, sink: SinkServer, system: str
) -> None:
    body = make_subject(1)
    first = _post(endpoint, system, body, TOKEN)
    assert first.status_code == 200
    assert json.loads(first.content)["result"] == "accepted"
    resend = _post(endpoint, system, body, TOKEN)
    assert json.loads(resend.content)["result"] == "duplicate"
    runtime.start()
    wait_for(lambda: len(sink.stored) == 1)
    assert services.dead_letters.counts() == {}


def test_concurrent_resends_make_one_message(
    endpoint: WebhookServer, runtime: Runtime, services: Services, sink: SinkServer, system: str
) -> None:
    body = make_subject(7)
    answers: list[str] = []

    def push() -> None:
        answers.append(json.loads(_post(endpoint, system, body, TOKEN).content)["result"])

    threads = [threading.Thread(target=push) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count("accepted") == 1
    assert answers.count("duplicate") == 5
    assert services.bus.depth(inbound_queue(system, "subject")) == 1  # stored once
    runtime.start()
    wait_for(lambda: len(sink.stored) == 1)


def test_a_bad_token_is_unauthorized_and_dead_lettered(
    endpoint: WebhookServer, services: Services, system: str
) -> None:
    answer = _post(endpoint, system, make_subject(2), {"X-Kit-Token": "wrong"})
    assert answer.status_code == 401
    assert json.loads(answer.content)["rule"] == "signature"
    [letter] = services.dead_letters.list(status="dead", system=system)
    assert letter.rule == "signature"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe\x00garbage", "malformed"),
        (json.dumps({"id": 1}).encode(), "required"),
    ],
)
def test_an_invalid_request_is_rejected_with_a_reason(
    endpoint: WebhookServer, services: Services, system: str, body: bytes, rule: str
) -> None:
    answer = _post(endpoint, system, body, TOKEN)
    assert answer.status_code == 422
    reason = json.loads(answer.content)
    assert reason["result"] == "rejected"
    assert reason["rule"]
    assert services.dead_letters.counts() == {system: {"dead": 1}}


def test_limits_and_unknown_paths(endpoint: WebhookServer, system: str) -> None:
    huge = b"{" + b" " * (64 * 1024) + b"}"
    assert _post(endpoint, system, huge, TOKEN).status_code == 413
    assert httpx.post(f"{endpoint.url}/inbound/nobody", content=b"{}").status_code == 404
    assert httpx.get(f"{endpoint.url}/inbound/{system}/subjects").status_code == 405


def test_the_runtime_serves_the_webhook_when_configured(
    services: Services, system: str, sink: SinkServer
) -> None:
    settings = services.settings.model_copy(update={"webhook": WebhookSettings(port=0)})
    configured = Services.open(services.project, settings)
    runtime = Runtime(configured)
    runtime.start()
    try:
        assert runtime.webhook is not None
        answer = _post(runtime.webhook, system, make_subject(3), TOKEN)
        assert answer.status_code == 200
        wait_for(lambda: len(sink.stored) == 1)
    finally:
        runtime.shutdown()
        configured.close()
