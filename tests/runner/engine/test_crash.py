"""A worker killed with SIGKILL at random points while 1,000 messages flow loses nothing and
stores nothing twice at the (idempotent) destination, on the embedded bus and on RabbitMQ."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from adapters._testkit import SinkServer, make_subject
from runner.adapter_api import RawMessage
from runner.bus.topology import inbound_queue
from runner.engine.codec import encode_raw
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.settings import Settings
from tests.runner.engine.conftest import wait_for

COUNT = 1000


def _start_worker(
    root: Path, settings: Settings, sink: SinkServer, system: str
) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.runner.engine._worker",
            str(root),
            settings.bus,
            settings.store,
            sink.url,
            system,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert worker.stdout is not None
    line = worker.stdout.readline().strip()
    if line != "ready":
        _kill(worker)
        raise AssertionError(f"the worker did not start (said {line!r})")
    return worker


def _kill(worker: subprocess.Popen[str]) -> None:
    worker.kill()  # SIGKILL: no cleanup, wherever it was
    worker.wait()
    if worker.stdout is not None:
        worker.stdout.close()


def test_sigkilled_workers_lose_nothing_and_store_nothing_twice(
    services: Services, settings: Settings, sink: SinkServer, config_root: Path, system: str
):
    Runtime(services).prepare()
    services.bus.publish(
        inbound_queue(system, "subject"),
        [encode_raw(system, "subject", RawMessage(make_subject(n))) for n in range(COUNT)],
    )
    rng = random.Random(20261126)
    kills = 0
    while len(sink.stored) < COUNT and kills < 4:
        worker = _start_worker(config_root, settings, sink, system)
        time.sleep(rng.uniform(0.2, 1.0))
        _kill(worker)
        kills += 1
    survivor = _start_worker(config_root, settings, sink, system)
    try:
        wait_for(lambda: len(sink.stored) == COUNT, timeout=120)
        time.sleep(0.5)
    finally:
        _kill(survivor)
    assert len(sink.stored) == COUNT  # every message arrived
    duplicates = sum(n - 1 for n in sink.calls.values())
    print(f"crash test: {kills} kills, {duplicates} repeated calls, {COUNT} stored once")
    assert duplicates <= kills * 100  # repeats only for calls cut by a kill (≤ one batch each)
    assert services.audit.verify().ok
    assert services.dead_letters.list() == []
