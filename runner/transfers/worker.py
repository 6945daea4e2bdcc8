"""The transfer core on the bus: a consumer of the canonical feeds, the clock watcher and the
outbox relay, each a loop the runtime runs on its own thread.

The consumer reads queue ``ebus.transfers`` (bound to the penalty-decision, case, case-transfer
and supervision-notice feeds). Per message: its own messages (header ``x-ebus-origin:
transfers``) are skipped; a message naming an unknown transfer, or a step the workflow refuses,
goes to the dead-letter store with its reason (the batch goes on); a database failure raises, so
the batch returns to the queue. Any number of processes may run these loops: proposals, clock
alerts and outbox rows are claimed in the database, so each happens once.

Example (what ``runner.engine.runtime`` does)::

    loops = TransferLoops.open(services)
    services.bus.declare(transfer_topology())
    for name, target in loops.threads(stop):
        spawn(name, target)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from runner.bus import ACK, Bus, Disposition, Message
from runner.bus.topology import QueueSpec, Topology, feed_binding
from runner.errors import EbusError
from runner.logs import get_logger
from runner.stores.dead_letters import DeadLetter, DeadLetterStore
from runner.transfers._settings import TransferSettings
from runner.transfers.package import PackageError
from runner.transfers.rules import load_rules
from runner.transfers.service import ORIGIN, ORIGIN_HEADER, TransferService, UnknownTransfer
from runner.transfers.statutes import ClockPolicy
from runner.transfers.workflow import IllegalTransition
from schemas import ENVELOPES, describe

__all__ = [
    "FEEDS",
    "QUEUE",
    "TRANSFER_TOPOLOGY",
    "TransferLoops",
    "TransferWorker",
    "transfer_loops",
    "transfer_topology",
]

log = get_logger("ebus.transfers")

QUEUE: Final = "ebus.transfers"
FEEDS: Final = (
    "enforcement.penalty_decision.v1",
    "enforcement.case.v1",
    "enforcement.case_transfer.v1",
    "enforcement.supervision_notice.v1",
)


def transfer_topology(queue: str = QUEUE) -> Topology:
    """The transfer core's queue and its bindings to the feeds it reads."""
    return Topology(
        queues=(QueueSpec(queue),), bindings=tuple(feed_binding(feed, queue) for feed in FEEDS)
    )


TRANSFER_TOPOLOGY: Final = transfer_topology()
"""The default queue ``ebus.transfers`` and its feed bindings."""


class TransferWorker:
    """The bus handler of ``ebus.transfers``."""

    def __init__(self, service: TransferService, dead_letters: DeadLetterStore) -> None:
        self.service = service
        self.dead_letters = dead_letters

    def __call__(self, batch: list[Message]) -> list[Disposition]:
        """Handle one batch; every message is settled with ACK (refusals are dead letters)."""
        for message in batch:
            if message.headers.get(ORIGIN_HEADER) == ORIGIN:
                continue
            self._one(message)
        return [ACK] * len(batch)

    def _one(self, message: Message) -> None:
        try:
            data = json.loads(message.body)
            model = ENVELOPES.get(str(data.get("schema")))
            if model is None:
                return
            view = model.model_validate(data).model_dump(mode="json")
            self.service.handle(view)
        except (UnknownTransfer, IllegalTransition, PackageError) as exc:
            self._dead(message, str(exc), type(exc).__name__, data)
        except ValidationError as exc:
            reason = f"not a valid canonical envelope: {describe(exc)[0]}"
            self._dead(message, reason, "invalid", None)
        except ValueError as exc:
            reason = f"not a canonical envelope (JSON): {type(exc).__name__}"
            self._dead(message, reason, "invalid", None)

    def _dead(self, message: Message, reason: str, rule: str, data: Any) -> None:
        view = data if isinstance(data, dict) else {}
        letter = DeadLetter(
            system=str(view.get("source_system") or "?"),
            message_type=str(view.get("schema") or "?"),
            stage="route",
            reason=reason[:1000],
            rule=rule,
            route="transfers",
            body=message.body,
            source_message_id=view.get("source_message_id"),
            message_id=view.get("message_id"),
            case_code=view.get("case_code"),
            headers={k: v for k, v in message.headers.items() if v is not None}
            | {"x-ebus-dead-queue": message.queue},
        )
        self.dead_letters.put(letter)
        log.warning("transfer message refused", rule=rule, message_id=view.get("message_id"))


@dataclass
class TransferLoops:
    """The three loops of the transfer core in one process."""

    service: TransferService
    bus: Bus
    worker: TransferWorker
    watch_every_s: float = 30.0
    relay_every_s: float = 1.0
    queue: str = QUEUE

    def watch_loop(self, stop: threading.Event) -> None:
        """Raise overdue alerts until ``stop`` (each missed deadline once, across processes)."""
        while not stop.is_set():
            self.service.watch()
            stop.wait(self.watch_every_s)

    def relay_loop(self, stop: threading.Event) -> None:
        """Publish the outbox until ``stop``."""
        while not stop.is_set():
            if not self.service.relay(self.bus.publish):
                stop.wait(self.relay_every_s)

    def consume_loop(self, stop: threading.Event) -> None:
        """Consume ``ebus.transfers`` until ``stop``."""
        self.bus.consume(self.queue, self.worker, batch_size=50, batch_wait_s=0.05, stop=stop)

    def threads(self, stop: threading.Event) -> Iterator[tuple[str, Callable[[], None]]]:
        """``(name, target)`` of every loop, for the runtime to run on its threads."""
        yield "transfers consume", lambda: self.consume_loop(stop)
        yield "transfers watch", lambda: self.watch_loop(stop)
        yield "transfers relay", lambda: self.relay_loop(stop)

    @classmethod
    def open(cls, services: Any) -> TransferLoops:
        """The loops over a runtime's ``Services`` (rules from ``routes/transfer-rules``; the
        day count and the watcher's interval from the settings' ``transfers:`` key)."""
        rules = load_rules(services.project.root / "routes" / "transfer-rules")
        if rules.issues:
            raise EbusError(
                f"transfer rules have {len(rules.issues)} problem(s): ebus transfers lint"
            )
        # a services stand-in without settings (a test's) gets the defaults
        settings: TransferSettings = getattr(
            getattr(services, "settings", None), "transfers", TransferSettings()
        )
        service = TransferService(services.db, rules, policy=ClockPolicy.of(settings))
        return cls(
            service,
            services.bus,
            TransferWorker(service, services.dead_letters),
            watch_every_s=settings.watch_interval_s,
        )


def transfer_loops(services: Any) -> TransferLoops | None:
    """The transfer loops of a runtime, with their queue declared; None when the project has no
    ``routes/transfer-rules`` (a deployment without the transfer core)."""
    if not (services.project.root / "routes" / "transfer-rules").is_dir():
        return None
    loops = TransferLoops.open(services)
    services.bus.declare(transfer_topology(loops.queue))
    return loops
