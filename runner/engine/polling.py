"""Pollers on a schedule: the bus side of ``PollContext`` for systems the bus polls.

A poll cycle's answers are published to the inbound queue before the cycle commits its cursor,
so a crash in the middle repeats the window (duplicates are recognised downstream) and loses
nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from runner.adapter_api import AdapterConfig, MessageRejected, Outgoing, RawMessage
from runner.bus.topology import inbound_queue
from runner.engine.codec import encode_raw
from runner.engine.rejections import dead_letter
from runner.engine.services import Services
from runner.errors import EbusError, TransientError
from runner.logs import get_logger
from runner.stamp import now

__all__ = ["BusPollContext", "Poller"]

log = get_logger("ebus.poll")


class BusPollContext:
    """One cycle's context: calls through the system's connection, emits to the bus."""

    def __init__(self, services: Services, system: str) -> None:
        self.services = services
        self.system = system
        self.emitted = 0
        self._cursor_name = f"poll:{system}"

    @property
    def now(self) -> dt.datetime:
        """The current time."""
        return now()

    def cursor(self) -> dict[str, Any] | None:
        """The cursor of the last complete cycle."""
        return self.services.cursors.get(self._cursor_name)

    def call(self, message_id: str, call: Outgoing) -> RawMessage:
        """Make one call through the system's connection."""
        return self.services.connection(self.system).send(call)

    def emit(self, message_id: str, raw: RawMessage) -> None:
        """Publish one answer to ``ebus.in.<system>.<message>`` (confirmed)."""
        stamped = raw if raw.received_at else RawMessage(raw.body, raw.headers, raw.meta, now())
        self.services.bus.publish(
            inbound_queue(self.system, message_id), [encode_raw(self.system, message_id, stamped)]
        )
        self.emitted += 1

    def commit(self, cursor: dict[str, Any]) -> None:
        """Store the cursor the next cycle starts from."""
        self.services.cursors.set(self._cursor_name, cursor)

    def recall(self, key: str) -> dict[str, Any] | None:
        """A durable fact remembered under ``key`` by this system's poller."""
        return self.services.cursors.get(f"fact:{self.system}:{key}")

    def remember(self, key: str, value: dict[str, Any]) -> None:
        """Store a durable fact under ``key``."""
        self.services.cursors.set(f"fact:{self.system}:{key}", value)

    def reject(self, message_id: str, raw: RawMessage, error: MessageRejected) -> None:
        """Dead-letter a message refused before it was emitted, and audit it."""
        stamped = raw if raw.received_at else RawMessage(raw.body, raw.headers, raw.meta, now())
        dead_letter(
            self.services,
            error.located(system=self.system, message=message_id),
            encode_raw(self.system, message_id, stamped),
        )


class Poller:
    """Runs one system's poll cycles every ``interval_s`` until stopped."""

    def __init__(self, services: Services, system: str, interval_s: float) -> None:
        self.services = services
        self.system = system
        self.interval_s = interval_s
        self.adapter = services.project.registry.get(system)
        self.cycles = 0

    def run_once(self) -> int:
        """One cycle; returns the number of answers emitted."""
        assert self.adapter.poll is not None
        config: AdapterConfig = self.services.config(self.system)
        context = BusPollContext(self.services, self.system)
        self.adapter.poll(context, config)
        self.cycles += 1
        return context.emitted

    def run(self, stop: threading.Event) -> None:
        """Cycle until ``stop`` is set; a failed cycle is logged and tried again next time."""
        while not stop.is_set():
            try:
                emitted = self.run_once()
                log.info("poll cycle", system=self.system, emitted=emitted)
            except TransientError as exc:
                log.warning(
                    "poll cycle failed, will retry",
                    system=self.system,
                    code=exc.code,
                    error=str(exc)[:200],
                )
            except EbusError as exc:
                log.error("poll cycle failed", system=self.system, error=str(exc)[:200])
            stop.wait(self.interval_s)
