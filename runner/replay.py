"""Replaying dead letters: sending a dead-lettered message back where it failed.

An inbound letter (the raw wire message) goes back to its inbound queue and is mapped again (the
mapping may have been fixed since); a delivery letter (the canonical envelope) goes back to its
destination's queue with a fresh attempt count. The message is published first and marked
replayed after: a crash in between replays it twice, which the idempotency keys absorb, rather
than marking a letter replayed that never went out.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.bus import Bus, OutMessage
from runner.bus.topology import delivery_queue, inbound_queue
from runner.engine.codec import ATTEMPTS, REPLAYED
from runner.stores.audit import AuditStore
from runner.stores.dead_letters import DeadLetterStore, StoredDeadLetter, letter_event

__all__ = ["ReplayResult", "replay"]


@dataclass(frozen=True)
class ReplayResult:
    """What happened to one letter: replayed to ``queue``, or skipped with a reason."""

    letter_id: str
    queue: str | None
    skipped: str | None = None


def _queue_of(letter: StoredDeadLetter) -> str | None:
    if letter.stage == "inbound":
        return inbound_queue(letter.system, letter.message_type)
    if letter.stage == "delivery" and letter.route and letter.destination:
        return delivery_queue(letter.route, letter.destination)
    return None


def replay(
    bus: Bus, letters: DeadLetterStore, audit: AuditStore, ids: list[str]
) -> list[ReplayResult]:
    """Replay the dead letters ``ids``; letters already replayed or purged are skipped."""
    results: list[ReplayResult] = []
    for letter_id in ids:
        letter = letters.get(letter_id)
        if letter is None:
            results.append(ReplayResult(letter_id, None, "no such dead letter"))
            continue
        if letter.status != "dead":
            results.append(ReplayResult(letter_id, None, f"already {letter.status}"))
            continue
        queue = _queue_of(letter)
        if queue is None:
            results.append(ReplayResult(letter_id, None, f"stage {letter.stage} has no queue"))
            continue
        headers = {
            k: v for k, v in letter.headers.items() if isinstance(v, str | int) and k != ATTEMPTS
        }
        headers[REPLAYED] = letter_id  # the delivery worker lets a replay through
        bus.publish(queue, [OutMessage(letter.body, headers, letter.message_id)])
        if letters.mark_replayed(letter_id):
            audit.append(letter_event(letter, "replayed", {"letter": letter_id, "queue": queue}))
        results.append(ReplayResult(letter_id, queue))
    return results
