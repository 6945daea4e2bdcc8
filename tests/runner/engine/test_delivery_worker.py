"""The delivery worker driven by hand, its requeues captured instead of published:

- per-case order of an ordered destination whatever order the broker hands delayed messages
  back in (RabbitMQ's delay buckets round delays up, so a message postponed later can come
  back before one retried earlier);
- a call sent again is framed afresh (new clock and nonce) as the same call (same sequence and
  first send time: a batch number stays), and a per-record retry goes in a new call."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from adapters._simulators.http import Fault
from adapters._testkit import SinkServer, make_subject
from runner.adapter_api import CallContext, RawMessage
from runner.bus import Message, OutMessage
from runner.bus.topology import inbound_queue
from runner.engine.codec import encode_raw
from runner.engine.delivery import DeliveryWorker
from runner.engine.runtime import Runtime
from runner.engine.services import Services

_tags = itertools.count(1)


class Captured:
    """What the workers published instead of the bus: (queue, message, delay) in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutMessage, float]] = []

    def publish(self, target: str, messages: list[OutMessage], *, delay_s: float = 0) -> None:
        self.sent += [(target, m, delay_s) for m in messages]

    def take(self) -> list[tuple[OutMessage, float]]:
        """Everything published since the last take."""
        taken, self.sent = [(m, d) for _, m, d in self.sent], []
        return taken


def _delivered(message: OutMessage, queue: str) -> Message:
    return Message(
        message.body, dict(message.headers), message.message_id, next(_tags), False, queue
    )


@pytest.fixture
def worker_and_bus(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> tuple[DeliveryWorker, dict[int, Message], Captured]:
    """The kit route's delivery worker, and decisions 0, 3, 6 and 9 (one case) as messages of
    its queue, keyed by decision number."""
    runtime = Runtime(services)
    runtime.prepare()
    (system,) = services.project.registry.ids()
    captured = Captured()
    monkeypatch.setattr(services.bus, "publish", captured.publish)
    inbound = runtime.inbound[inbound_queue(system, "subject")]
    (worker,) = runtime.delivery.values()
    messages: dict[int, Message] = {}
    for number in (0, 3, 6, 9):
        raw = encode_raw(system, "subject", RawMessage(make_subject(number, cases=3)))
        inbound([_delivered(raw, inbound_queue(system, "subject"))])
        (out,) = [m for target, m, _ in captured.sent if target == worker.queue]
        captured.sent.clear()
        messages[number] = _delivered(out, worker.queue)
    return worker, messages, captured


def _hand_back(worker: DeliveryWorker, message: Message, captured: Captured) -> str:
    """Hand ``message`` back to the worker alone: 'sent' or 'postponed' (requeued)."""
    worker([message])
    return "postponed" if captured.take() else "sent"


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_messages_handed_back_in_the_worst_order_still_reach_the_system_in_case_order(
    worker_and_bus: tuple[DeliveryWorker, dict[int, Message], Captured], sink: SinkServer
):
    worker, m, captured = worker_and_bus
    sink.server.inject(Fault("status", status=503), times=2)  # the first call and its retry
    worker([m[0], m[3]])  # refused for now: both requeued for a retry, the case is held
    assert [out.message_id for out, _ in captured.take()] == [m[0].message_id, m[3].message_id]
    assert _hand_back(worker, m[6], captured) == "postponed"  # behind the retries
    # the broker hands them back later than, and in the reverse of, the order they went in
    assert _hand_back(worker, m[6], captured) == "postponed"
    assert _hand_back(worker, m[3], captured) == "postponed"  # 0 is still out
    assert _hand_back(worker, m[0], captured) == "sent"
    assert _hand_back(worker, m[9], captured) == "postponed"  # a newcomer joins the line
    assert _hand_back(worker, m[6], captured) == "postponed"  # 3 is still out
    assert _hand_back(worker, m[3], captured) == "sent"
    assert _hand_back(worker, m[9], captured) == "postponed"  # 6 is still out
    assert _hand_back(worker, m[6], captured) == "sent"
    assert _hand_back(worker, m[9], captured) == "sent"
    assert list(sink.order.values()) == [[0, 3, 6, 9]]


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_a_message_goes_with_the_ones_ahead_of_it_when_they_share_a_call(
    worker_and_bus: tuple[DeliveryWorker, dict[int, Message], Captured], sink: SinkServer
):
    worker, m, captured = worker_and_bus
    sink.server.inject(Fault("status", status=503), times=2)
    worker([m[0]])
    captured.take()
    assert _hand_back(worker, m[3], captured) == "postponed"
    worker([m[0], m[3]])  # back together, in order: one call
    assert captured.take() == []
    assert list(sink.order.values()) == [[0, 3]]
    assert sum(sink.calls.values()) == 2


class Frames:
    """Records the call context of every call the worker frames."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self.calls: list[CallContext] = []
        self._frame = worker._frame

    def __call__(self, envelopes: list[Any], config: Any, call: CallContext) -> Any:
        self.calls.append(call)
        return self._frame(envelopes, config, call)


def _refused_once(
    worker_and_bus: tuple[DeliveryWorker, dict[int, Message], Captured],
    sink: SinkServer,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[DeliveryWorker, Frames, list[Message]]:
    """Decisions 0 and 3 sent in one call, refused (503) twice in process and requeued whole:
    the worker, its frames so far, and the two messages as the broker hands them back."""
    worker, m, captured = worker_and_bus
    frames = Frames(worker)
    monkeypatch.setattr(worker, "_frame", frames)
    monkeypatch.setattr(worker, "_sequence", itertools.count(1).__next__)  # numbered calls
    sink.server.inject(Fault("status", status=503), times=2)
    worker([m[0], m[3]])
    return worker, frames, [_delivered(out, worker.queue) for out, _ in captured.take()]


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_a_call_sent_again_is_framed_afresh_but_stays_the_same_call(
    worker_and_bus: tuple[DeliveryWorker, dict[int, Message], Captured],
    sink: SinkServer,
    monkeypatch: pytest.MonkeyPatch,
):
    worker, frames, back = _refused_once(worker_and_bus, sink, monkeypatch)
    worker(back)  # the whole call again, from the broker
    first, in_process, durable = frames.calls
    assert len({first.nonce, in_process.nonce, durable.nonce}) == 3
    assert first.now <= in_process.now <= durable.now
    assert in_process.sequence == durable.sequence == first.sequence
    assert in_process.first_sent == durable.first_sent == first.first_sent
    assert list(sink.order.values()) == [[0, 3]]


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_part_of_a_call_sent_again_is_a_new_call(
    worker_and_bus: tuple[DeliveryWorker, dict[int, Message], Captured],
    sink: SinkServer,
    monkeypatch: pytest.MonkeyPatch,
):
    worker, frames, back = _refused_once(worker_and_bus, sink, monkeypatch)
    worker(back[:1])  # only one of them came back in this batch
    first, _, alone = frames.calls
    assert alone.sequence != first.sequence  # e.g. a new batch number
