"""The transfer core on a real bus (RabbitMQ, and the embedded broker): feeds in, the outbox
relayed out, its own messages skipped, an answer for an unknown transfer dead-lettered."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from runner.bus import Bus, OutMessage
from runner.bus.topology import Binding, QueueSpec, Topology, feed_binding, feed_target
from runner.stores import Database, DeadLetterStore
from runner.transfers import Targets, TransferService
from runner.transfers.worker import FEEDS, TransferLoops, TransferWorker
from tests.runner.bus.conftest import Names, bus, bus_url, collect, names, open_test_bus
from tests.transfers.conftest import Clock, sample

__all__ = ["bus", "bus_url", "names", "open_test_bus"]  # fixtures used from the bus suite


def _feed_message(envelope: dict[str, Any]) -> OutMessage:
    envelope = dict(envelope)
    envelope.setdefault("causation_id", None)
    envelope.setdefault("occurred_at", "2025-06-03T16:40:55+08:00")
    envelope.setdefault("received_at", "2025-06-03T16:41:00+08:00")
    body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    return OutMessage(body, {"x-ebus-schema": envelope["schema"]}, envelope["message_id"])


def _until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_proposal_goes_round_the_bus_and_a_stray_receipt_is_dead_lettered(
    bus: Bus, names: Names, db: Database, rules: Any, clock: Clock
) -> None:
    queue, out, alerts = names("transfers"), names("out"), names("alerts")
    alert_key = f"alert.{names.prefix}"
    bus.declare(
        Topology(
            queues=(QueueSpec(queue), QueueSpec(out), QueueSpec(alerts)),
            bindings=(
                *(feed_binding(feed, queue) for feed in FEEDS),
                feed_binding("enforcement.case_transfer.v1", out),
                Binding("ebus.canonical", alerts, alert_key),
            ),
        )
    )
    targets = Targets(alerts=(f"ebus.canonical:{alert_key}",))
    service = TransferService(db, rules, clock=clock, targets=targets, ledger_key=b"k" * 32)
    loops = TransferLoops(service, bus, TransferWorker(service, DeadLetterStore(db)), queue=queue)
    stop = threading.Event()
    consumer = threading.Thread(target=loops.consume_loop, args=(stop,), daemon=True)
    consumer.start()
    try:
        case = sample("eco_env/samples/get_case_list_response-2.expected.json")
        bus.publish(feed_target("enforcement.case.v1"), [_feed_message(case)])
        _until(lambda: bool(service.store.list()))
        assert service.relay(bus.publish) == 1
        (proposal,) = collect(bus, out, 1)
        assert proposal.headers["x-ebus-origin"] == "transfers"
        payload = json.loads(proposal.body)["payload"]
        assert payload["status"] == "proposed"
        assert payload["transfer_id"] == "YS-350802-2025-0001"

        stray = sample("admin_criminal/samples/receipt_signed-1.expected.json")
        bus.publish(feed_target("enforcement.case_transfer.v1"), [_feed_message(stray)])
        letters = DeadLetterStore(db)
        _until(lambda: bool(letters.list(status="dead")))
        (letter,) = letters.list(status="dead")
        assert letter.system == "admin_criminal"
        assert "does not know" in letter.reason

        clock.set("2025-06-07T00:00:00")  # the approval was due by 2025-06-06 23:59:59
        assert len(service.watch()) == 1
        assert service.relay(bus.publish) == 1
        (alert,) = collect(bus, alerts, 1)
        assert json.loads(alert.body)["deadline"]["key"] == "approval_decision"
        assert service.watch() == []
        assert service.relay(bus.publish) == 0
        assert collect(bus, alerts, 1, timeout=0.5) == []
        assert len(service.store.list()) == 1  # its own proposal, seen on the feed, was skipped
    finally:
        stop.set()
        consumer.join(10)
