"""The demo script against the real webhook endpoint and runtime: every good event becomes one
canonical message, the bad ones give exactly the dead letters the script announces."""

from __future__ import annotations

import time
from collections import Counter

from adapters.online_hall.demo import DEMO, OnlineHallDemo
from runner.adapter_api import SystemCounts
from runner.demo import AuditTally
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from tests.adapters.online_hall.conftest import wait_for


def test_the_demo_script_plays_as_announced(endpoint: str, runtime: Runtime, services: Services):
    runtime.start()
    peer = DEMO.start()
    assert isinstance(peer, OnlineHallDemo)
    peer.bind(endpoint)
    started = time.monotonic()
    notes: list[str] = []
    try:
        while not peer.finished():
            notes += peer.tick(time.monotonic() - started + 1.0)
            assert time.monotonic() - started < 60
            time.sleep(0.05)
        notes += peer.tick(99.0)
    finally:
        peer.stop()
    tally = AuditTally(services.db, [])

    def settled() -> bool:
        tally.refresh()
        return tally.counts["online_hall"].mapped >= len(peer.good)

    wait_for(settled)
    letters = services.dead_letters.list(status="dead", system="online_hall")
    assert Counter(d.rule for d in letters) == Counter(peer.expected_dead_letters)
    assert peer.check(tally.counts["online_hall"]) == []
    assert len(notes) == 3


def test_without_an_endpoint_the_demo_says_so_instead_of_hanging():
    peer = OnlineHallDemo()
    peer.bind("http://127.0.0.1:9")  # discard port: nothing listens
    peer.tick(5.0)
    wait_for(peer.finished, timeout=20)
    problems = peer.check(SystemCounts())
    assert problems == ["online_hall: no webhook endpoint answers at http://127.0.0.1:9"]
    peer.stop()
