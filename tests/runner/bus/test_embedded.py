"""What only the embedded broker does: leases tied to processes, cross-process wake-up, URLs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runner.bus import ACK, BusError, Message, OutMessage, open_bus, sqlite_path
from runner.bus import _sqlite as embedded
from runner.bus.api import Disposition
from runner.errors import ConfigError

from .conftest import Consumer, collect, declare

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'broker.db'}"


def test_a_slow_handler_keeps_its_messages_while_another_bus_opens_the_file(url: str) -> None:
    with open_bus(url) as first, open_bus(url) as _:
        declare(first, "slow")
        first.publish("slow", [OutMessage(b"x", message_id="s1")])
        started, release = threading.Event(), threading.Event()

        def slow(batch: list[Message]) -> list[Disposition]:
            started.set()
            release.wait(5)
            return [ACK] * len(batch)

        consumer = Consumer(first, "slow", slow)
        consumer.start()
        assert started.wait(5)
        with open_bus(url) as second:
            assert second.recover() == 0
            assert collect(second, "slow", 1, timeout=0.3) == []
        release.set()
        consumer.stop()
        assert first.depth("slow") == 0


def test_a_live_consumer_takes_over_the_messages_of_a_dead_process(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "RECOVERY_INTERVAL_S", 0.05)
    with open_bus(url) as bus:
        declare(bus, "work")
        bus.publish("work", [OutMessage(b"x", message_id=f"w{i}") for i in range(5)])
        claim_and_die = (
            "import os, signal, sys, threading; from runner.bus import open_bus;"
            "die = lambda batch: os.kill(os.getpid(), signal.SIGKILL);"
            "open_bus(sys.argv[1]).consume('work', die, batch_size=5, stop=threading.Event())"
        )
        subprocess.run([sys.executable, "-c", claim_and_die, url], cwd=ROOT, check=False)
        assert bus.depth("work") == 0, "the dead process should still hold the leases"

        got = collect(bus, "work", 5, timeout=5)

    assert sorted(m.message_id or "" for m in got) == [f"w{i}" for i in range(5)]
    assert all(m.redelivered for m in got)


def test_a_waiting_consumer_sees_a_message_published_by_another_process(url: str) -> None:
    with open_bus(url) as bus:
        declare(bus, "cross")
        publish = (
            "import sys; from runner.bus import open_bus, OutMessage;"
            "open_bus(sys.argv[1]).publish('cross', [OutMessage(b'hi', message_id='x1')])"
        )
        timer = threading.Timer(
            0.1, subprocess.run, ([sys.executable, "-c", publish, url],), {"cwd": ROOT}
        )
        timer.start()
        started = time.monotonic()
        [message] = collect(bus, "cross", 1, timeout=10)
        timer.join()

    assert message.message_id == "x1"
    assert time.monotonic() - started < 5


def test_a_handler_error_from_sqlite_is_not_mistaken_for_a_broker_error(url: str) -> None:
    with open_bus(url) as bus:
        declare(bus, "own-db")
        bus.publish("own-db", [OutMessage(b"x")])

        def audit_fails(_: list[Message]) -> list[Disposition]:
            raise sqlite3.OperationalError("the audit store is locked")

        with pytest.raises(sqlite3.OperationalError, match="audit"):
            bus.consume("own-db", audit_fails, stop=threading.Event())
        assert [m.redelivered for m in collect(bus, "own-db", 1)] == [True]


def test_consuming_an_undeclared_queue_fails(url: str) -> None:
    with open_bus(url) as bus, pytest.raises(BusError, match="no queue"):
        bus.consume("nope", lambda b: [ACK] * len(b), stop=threading.Event())


def test_rejecting_from_a_queue_without_dead_letters_fails_and_keeps_the_message(
    url: str,
) -> None:
    from runner.bus import QueueSpec, Reject, Topology  # noqa: PLC0415

    with open_bus(url) as bus:
        bus.declare(Topology(queues=(QueueSpec("plain", dead_letter=False),)))
        bus.publish("plain", [OutMessage(b"x")])
        with pytest.raises(BusError, match="dead-letter"):
            bus.consume("plain", lambda b: [Reject("no")] * len(b), stop=threading.Event())
        assert [m.redelivered for m in collect(bus, "plain", 1)] == [True]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        pytest.param("sqlite:///var/ebus-broker.db", "var/ebus-broker.db", id="relative"),
        pytest.param("sqlite:////srv/ebus/broker.db", "/srv/ebus/broker.db", id="absolute"),
    ],
)
def test_a_sqlite_url_names_a_file(url: str, path: str) -> None:
    assert sqlite_path(url) == Path(path)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite:///", id="no path"),
        pytest.param("sqlite:///:memory:", id="in memory is not durable"),
        pytest.param("redis://localhost", id="unknown scheme"),
    ],
)
def test_a_bad_bus_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        open_bus(url)
