"""Over loopback: the simulated YJZF client pushes to the bus's webhook endpoint (embedded bus).

Good pushes in every encoding are stored, acked with code 0 and mapped once; resends and
concurrent resends are code 1; bad signatures, stale timestamps, replayed nonces, malformed,
hostile, undecodable and oversized bodies get the Ack the README prescribes and are
dead-lettered with a reason that names the element and never an ID number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.emergency import SPEC, AckMemory, NonceCache
from adapters.emergency import answer as spec_answer
from adapters.emergency import verify as spec_verify
from adapters.emergency.simulator import (
    Documents,
    Fault,
    YjzfClient,
    hostile,
    malformed,
    oversized,
    undecodable,
)
from runner.bus.topology import delivery_queue
from runner.demo import AuditTally
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings, WebhookSettings
from schemas.timeutil import SHANGHAI
from tests.adapters.emergency._support import DispatchingWebhookServer
from tests.runner.engine.conftest import wait_for

CREDIT_FJ = delivery_queue("emergency-penalties", "credit_fj-penalty_push")


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setattr(spec_answer, "memory", AckMemory())
    monkeypatch.setattr(spec_verify, "nonces", NonceCache())
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={"emergency": dict(SPEC.demo_config)},
    )
    opened = Services.open(load_project(), settings)
    yield opened
    opened.close()


@pytest.fixture
def runtime(services: Services) -> Iterator[Runtime]:
    runtime = Runtime(services)
    runtime.prepare()
    yield runtime
    runtime.shutdown()


@pytest.fixture
def client(services: Services, runtime: Runtime) -> Iterator[YjzfClient]:
    server = DispatchingWebhookServer(services, WebhookSettings(port=0))
    server.start()
    yield YjzfClient(server.url, resend_delays=(0.1, 0.2, 0.3))
    server.stop()


@pytest.fixture
def documents(request: pytest.FixtureRequest) -> Documents:
    # a distinct msgId range per test: the clock of the documents differs by the test's hash
    offset = dt.timedelta(seconds=hash(request.node.name) % 86400)
    return Documents(seed=7, now=dt.datetime.now(SHANGHAI) - offset)


def _mapped(services: Services) -> int:
    tally = AuditTally(services.db, [])
    tally.refresh()
    return tally.counts["emergency"].mapped


def _letters(services: Services) -> list[Any]:
    return services.dead_letters.list(system="emergency")


def test_good_pushes_in_every_encoding_are_acked_0_and_mapped_once(
    client: YjzfClient, services: Services, runtime: Runtime, documents: Documents
):
    bodies = [
        documents.inspection("utf-8"),
        documents.inspection("gb2312"),
        documents.inspection("bom"),
        documents.penalty(),
        documents.penalty(natural_person=True),
    ]
    results = [client.push(body) for body in bodies]
    assert [(r.state, r.attempts[-1].status, r.attempts[-1].code) for r in results] == [
        ("accepted", 200, "0")
    ] * 5
    runtime.start()
    wait_for(lambda: _mapped(services) == 5)
    wait_for(lambda: services.bus.depth(CREDIT_FJ) == 2)
    assert _letters(services) == []


def test_resends_and_concurrent_resends_are_code_1_and_make_one_message(
    client: YjzfClient, services: Services, runtime: Runtime, documents: Documents
):
    body = documents.penalty()
    assert client.push(body).state == "accepted"
    again = client.push(body)
    assert (again.state, again.attempts[0].code) == ("duplicate", "1")
    assert again.attempts[0].reason.startswith("重复报文，已于")
    other = documents.inspection()
    codes = sorted(a.code for a in client.push_concurrently(other, 6))
    assert codes == ["0", "1", "1", "1", "1", "1"]
    runtime.start()
    wait_for(lambda: _mapped(services) == 2)


def test_a_msg_id_reused_for_another_body_is_refused_as_code_2(
    client: YjzfClient, documents: Documents
):
    body = documents.penalty()
    assert client.push(body).state == "accepted"
    changed = client.push(body.replace(b"<FKJE>", b"<FKJE>1"))
    assert (changed.state, changed.attempts[0].reason) == ("flagged", "msgId重复但报文内容不同")


def test_a_reused_msg_id_is_still_code_2_after_a_restart(
    client: YjzfClient, services: Services, documents: Documents
):
    body = documents.penalty()
    assert client.push(body).state == "accepted"
    spec_answer.memory = AckMemory()  # a new process: nothing in memory, the store remembers
    restarted = DispatchingWebhookServer(services, WebhookSettings(port=0)).start()
    try:
        again = YjzfClient(restarted.url, resend_delays=(0.1,))
        changed = again.push(body.replace(b"<FKJE>", b"<FKJE>1"))
        assert (changed.state, changed.attempts[0].reason) == ("flagged", "msgId重复但报文内容不同")
        assert again.push(body).attempts[0].code == "1"  # the same body: a resend
    finally:
        restarted.stop()


@pytest.mark.parametrize(
    ("fault", "rule"),
    [
        (Fault("wrong_secret"), "signature_mismatch"),
        (Fault("missing_header"), "missing_header"),
    ],
)
def test_an_unauthentic_push_is_401_code_2_flagged_and_dead_lettered(
    client: YjzfClient, services: Services, documents: Documents, fault: Fault, rule: str
):
    result = client.push(documents.inspection(), [fault])
    assert (result.state, result.attempts[0].status, result.attempts[0].code) == (
        "flagged",
        401,
        "2",
    )
    assert [letter.rule for letter in _letters(services)] == [rule]


def test_a_replayed_nonce_is_refused(client: YjzfClient, documents: Documents):
    first = client.send_once(documents.inspection())
    replay = client.send_once(documents.inspection(), [Fault("replayed_nonce")])
    assert (first.code, replay.status, replay.code) == ("0", 401, "2")


def test_a_nonce_replayed_to_another_bus_process_is_refused(
    client: YjzfClient, services: Services, documents: Documents
):
    first = client.send_once(documents.inspection())
    spec_verify.nonces = NonceCache()  # another process: nothing in memory, the store remembers
    other = DispatchingWebhookServer(services, WebhookSettings(port=0)).start()
    try:
        client.url = other.url  # the same sender, behind the address: the other process
        replay = client.send_once(documents.inspection(), [Fault("replayed_nonce")])
    finally:
        other.stop()
    assert (first.code, replay.status, replay.code) == ("0", 401, "2")


def test_a_stale_timestamp_is_401_code_9_and_the_re_signed_resend_is_accepted(
    client: YjzfClient, documents: Documents
):
    result = client.push(documents.inspection(), [Fault("stale_timestamp", seconds=900)])
    assert [(a.status, a.code) for a in result.attempts] == [(401, "9"), (200, "0")]
    assert result.state == "accepted"


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (malformed, 200, "XML格式错误"),
        (lambda body: hostile(), 200, "不允许DTD或实体声明"),
        (undecodable, 200, "字符编码错误"),
        (oversized, 413, "报文超过2MiB"),
    ],
    ids=["malformed", "billion laughs", "GBK under a UTF-8 label", "over 2 MiB"],
)
def test_a_bad_body_gets_code_2_with_its_reason_and_is_not_resent(
    client: YjzfClient,
    services: Services,
    documents: Documents,
    make: Any,
    status: int,
    reason: str,
):
    result = client.push(make(documents.penalty()))
    assert result.state == "flagged"
    assert len(result.attempts) == 1
    assert (result.attempts[0].status, result.attempts[0].code) == (status, "2")
    assert result.attempts[0].reason == reason
    assert len(_letters(services)) == 1


def test_a_bad_value_is_rejected_naming_the_element_and_never_an_id_number(
    client: YjzfClient, services: Services, documents: Documents
):
    body = documents.penalty(natural_person=True)
    start = body.index(b"<ZJHM>") + len(b"<ZJHM>")
    number = body[start : start + 18]
    bad = body.replace(number, number[:17] + (b"0" if number[17:] != b"0" else b"1"))
    result = client.push(bad)
    assert (result.state, result.attempts[0].reason) == ("flagged", "DSR/ZJHM 证件号码校验位错误")
    [letter] = _letters(services)
    assert number[:14].decode() not in letter.reason
    assert letter.rule == "id_number_check"


def test_a_bus_that_cannot_store_answers_code_9_and_the_resend_is_accepted(
    client: YjzfClient, services: Services, documents: Documents, monkeypatch: pytest.MonkeyPatch
):
    publish = services.bus.publish
    failures = [1]

    def flaky(target: str, messages: Any) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("broker down")
        return publish(target, messages)

    monkeypatch.setattr(services.bus, "publish", flaky)
    result = client.push(documents.penalty())
    assert [(a.status, a.code) for a in result.attempts] == [(200, "9"), (200, "0")]


def test_a_slow_body_is_still_taken_in(client: YjzfClient, documents: Documents):
    result = client.push(documents.inspection(), [Fault("slow_body", seconds=0.4)])
    assert result.state == "accepted"


def test_a_sender_that_gives_up_waiting_resends_and_one_message_results(
    client: YjzfClient, services: Services, runtime: Runtime, documents: Documents
):
    result = client.push(documents.inspection(), [Fault("timeout", seconds=0.001)])
    assert result.attempts[0].status == 0
    assert result.state in ("accepted", "duplicate")
    runtime.start()
    wait_for(lambda: _mapped(services) == 1)
