"""The source of the end-to-end benchmarks: raw test kit messages published to the inbound queue.

A source publishes messages ``first .. first + n - 1`` (``make_subject``) the way an inbound
channel does (``encode_raw``, confirmed ``Bus.publish``), in batches, flat out or paced at a
given rate, and notes when each batch was handed to the bus (``time.time()``, comparable across
processes). It runs in a thread of this process or in a process of its own.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from adapters._testkit import make_subject
from runner.adapter_api import RawMessage
from runner.bus import open_bus
from runner.bus.topology import inbound_queue
from runner.engine.codec import encode_raw

__all__ = ["Batch", "Plan", "SourceHandle", "bus_publisher", "publish_plan"]


@dataclass(frozen=True)
class Plan:
    """What to publish: ``n`` messages from number ``first``, ``batch`` per publish.

    ``rate`` (messages per second) paces the batches; ``None`` publishes flat out.
    """

    first: int
    n: int
    batch: int = 100
    rate: float | None = None


@dataclass(frozen=True)
class Batch:
    """Messages ``first .. first + count - 1`` were handed to the bus at ``at``."""

    first: int
    count: int
    at: float


Publish = Callable[[list[bytes], int], None]
"""Publishes raw bodies whose first message number is given (a bus, or Celery)."""


def publish_plan(plan: Plan, publish: Publish) -> list[Batch]:
    """Publish ``plan`` through ``publish``; the bodies are built before the clock starts."""
    bodies = [make_subject(n) for n in range(plan.first, plan.first + plan.n)]
    batches: list[Batch] = []
    started = time.perf_counter()
    for offset in range(0, plan.n, plan.batch):
        if plan.rate:
            due = started + offset / plan.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        chunk = bodies[offset : offset + plan.batch]
        batches.append(Batch(plan.first + offset, len(chunk), time.time()))
        publish(chunk, plan.first + offset)
    return batches


def bus_publisher(url: str, system: str) -> tuple[Publish, Callable[[], None]]:
    """A ``Publish`` onto the inbound queue of test kit ``system`` on the bus at ``url``, and how
    to close it."""
    bus = open_bus(url)
    queue = inbound_queue(system, "subject")

    def publish(bodies: list[bytes], _first: int) -> None:
        bus.publish(queue, [encode_raw(system, "subject", RawMessage(body)) for body in bodies])

    return publish, bus.close


Factory = Callable[[], tuple[Publish, Callable[[], None]]]


def _run(factory: Factory, conn: Connection) -> None:
    """The source process: publish each plan it is sent, answer with its batches."""
    publish, close = factory()
    try:
        conn.send("ready")
        while (plan := conn.recv()) is not None:
            conn.send(publish_plan(plan, publish))
    finally:
        close()


class SourceHandle:
    """A source in a thread of this process or in its own process (``where``)."""

    def __init__(self, factory: Factory, *, own_process: bool) -> None:
        self.where = "own process" if own_process else "in-process thread"
        self._result: list[Batch] | BaseException | None = None
        self._thread: threading.Thread | None = None
        if own_process:
            context = mp.get_context("spawn")
            self._conn, child = context.Pipe()
            self._process: Any = context.Process(
                target=_run, args=(factory, child), daemon=True, name="bench-source"
            )
            self._process.start()
            if self._conn.recv() != "ready":
                raise RuntimeError("the source process did not start")
        else:
            self._process = None
            self._publish, self._close = factory()

    def start(self, plan: Plan) -> None:
        """Start publishing ``plan`` (returns at once)."""
        if self._process is not None:
            self._conn.send(plan)
            return
        self._result = None

        def run() -> None:
            try:
                self._result = publish_plan(plan, self._publish)
            except BaseException as exc:
                self._result = exc

        self._thread = threading.Thread(target=run, name="bench-source", daemon=True)
        self._thread.start()

    def result(self, timeout_s: float = 600) -> list[Batch]:
        """The batches of the plan started last, once it is all published."""
        if self._process is not None:
            if not self._conn.poll(timeout_s):
                raise TimeoutError("the source did not finish publishing")
            return self._conn.recv()  # type: ignore[no-any-return]
        assert self._thread is not None
        self._thread.join(timeout_s)
        if isinstance(self._result, BaseException):
            raise self._result
        if self._result is None:
            raise TimeoutError("the source did not finish publishing")
        return self._result

    def close(self) -> None:
        """Stop the source."""
        if self._process is not None:
            self._conn.send(None)
            self._process.join(timeout=10)
        else:
            self._close()
