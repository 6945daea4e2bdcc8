"""Pollers on a schedule: the bus side of ``PollContext`` for systems the bus polls.

A poll cycle's answers are published to the inbound queue before the cycle commits its cursor,
so a crash in the middle repeats the window (duplicates are recognised downstream) and loses
nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from runner.adapter_api import AdapterConfig, MessageRejected, Outgoing, RawMessage
from runner.bus.topology import inbound_queue
from runner.engine.archive import read_day, render_accepted
from runner.engine.codec import encode_raw
from runner.engine.rejections import dead_letter
from runner.engine.services import Services
from runner.engine.wire_path import map_wire
from runner.errors import EbusError, TransientError
from runner.logs import get_logger
from runner.stamp import now
from runner.stores.dead_letters import DeadLetter, letter_event
from schemas.envelope import EnvelopeDraft

__all__ = ["BusPollContext", "Poller"]

log = get_logger("ebus.poll")


class BusPollContext:
    """One cycle's context: calls through the system's connection, emits to the bus."""

    def __init__(self, services: Services, system: str, archives: Sequence[str] = ()) -> None:
        self.services = services
        self.system = system
        self.archives = tuple(archives)
        """The schemas ``day_messages`` may read (a batch job's ``BatchJob.archives``)."""
        self.emitted = 0
        self._cursor_name = f"poll:{system}"
        self._refused: set[str] = set()

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

    def check(self, message_id: str, raw: RawMessage) -> MessageRejected | None:
        """The rejection the inbound worker would find in ``raw``, or None (``map_wire``)."""
        try:
            result = map_wire(self.services, self.system, message_id, raw)
        except MessageRejected as exc:
            return exc.located(system=self.system, message=message_id)
        if result.rejected:
            return result.rejected[0].located(system=self.system, message=message_id)
        return None

    def day_messages(self, schemas: Sequence[str], day: dt.date) -> list[dict[str, Any]]:
        """The archived envelopes of ``schemas`` received on ``day``, in the order received
        (``PermanentError`` for a schema not in ``archives``, see ``read_day``)."""
        return read_day(self.services, self.archives, schemas, day, self.now.date())

    def render_document(self, message: str, envelopes: Sequence[Mapping[str, Any]]) -> bytes:
        """The outbound mapping's document of the envelopes it accepts (``b""`` for none); one
        it cannot render is dead-lettered (once per context) and left out."""
        mapping = self.services.project.outbound_mapping(self.system, message)
        rendered = render_accepted(mapping, envelopes)
        for envelope, error in rendered.refused:
            if envelope.message_id not in self._refused:
                self._refused.add(str(envelope.message_id))
                self._dead_letter(message, envelope, error)
        return rendered.document

    def _dead_letter(
        self, message: str, envelope: EnvelopeDraft[Any], error: MessageRejected
    ) -> None:
        located = error.located(system=self.system, message=message)
        letter = DeadLetter.from_error(
            located,
            stage="delivery",
            body=json.dumps(envelope.to_json_dict(), ensure_ascii=False).encode("utf-8"),
            source_message_id=envelope.source_message_id,
            message_id=envelope.message_id,
            case_code=envelope.case_code,
        )
        stored = self.services.dead_letters.put(letter)
        detail: dict[str, JsonValue] = {"rule": located.rule, "reason": located.reason[:300]}
        self.services.audit.record_many([letter_event(stored, "dead_lettered", detail)])
        log.warning("not rendered", system=self.system, message=message, rule=located.rule)


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
