"""The demo script of the YJZF client, played against the bus's endpoint on an embedded bus."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.emergency import SPEC, AckMemory
from adapters.emergency import answer as spec_answer
from adapters.emergency.demo import DEMO, GOOD, EmergencyDemo
from runner.demo import AuditTally
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings, WebhookSettings
from tests.adapters.emergency._support import DispatchingWebhookServer


@pytest.fixture
def bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, str]]:
    monkeypatch.setattr(spec_answer, "memory", AckMemory())
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={"emergency": dict(SPEC.demo_config)},
    )
    services = Services.open(load_project(), settings)
    runtime = Runtime(services)
    runtime.prepare()
    server = DispatchingWebhookServer(services, WebhookSettings(port=0)).start()
    runtime.start()
    yield services, server.url
    server.stop()
    runtime.shutdown()
    services.close()


def test_the_script_plays_as_its_peer_expects(bus: tuple[Services, str]):
    services, url = bus
    peer = EmergencyDemo()
    peer.bind(url)
    lines = peer.intro()
    started = time.monotonic()
    while not peer.finished() and time.monotonic() - started < 60:
        lines += peer.tick(time.monotonic() - started)
        time.sleep(0.05)
    tally = AuditTally(services.db, [])
    deadline = time.monotonic() + 20
    while tally.counts["emergency"].mapped < GOOD and time.monotonic() < deadline:
        tally.refresh()
        time.sleep(0.1)
    assert peer.check(tally.counts["emergency"]) == []
    rules = Counter(d.rule for d in services.dead_letters.list(system="emergency"))
    assert rules == Counter(peer.expected_dead_letters)
    assert len([line for line in lines if line.startswith("emergency: ")]) == 7


def test_without_an_endpoint_the_client_sits_out(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EBUS_DEMO_WEBHOOK_URL", raising=False)
    peer = DEMO.start()
    assert peer.finished()
    assert peer.expected_dead_letters == {}
    assert peer.tick(30.0) == []
    assert "sits out" in peer.intro()[0]
