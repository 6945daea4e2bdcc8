"""Functions run in child processes by the concurrency tests (importable under ``spawn``)."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from runner.stores import AuditEvent, AuditStore, Database, IdempotencyStore


def append_events(url: str, worker: int, count: int, start: Event) -> None:
    """Append ``count`` events one by one, each naming this worker and its own counter."""
    with Database.open(url) as db:
        store = AuditStore(db)
        start.wait(60)
        for n in range(count):
            store.append(AuditEvent(kind="received", system=f"worker{worker}", detail={"n": n}))


def claim_keys(url: str, keys: list[str], start: Event, out: Queue[tuple[str, str, bool]]) -> None:
    """Claim every key for ``eco_env`` and put ``(key, message_id, first_time)`` on ``out``."""
    with Database.open(url) as db:
        store = IdempotencyStore(db)
        start.wait(60)
        for key in keys:
            claim = store.claim("eco_env", key)
            out.put((key, claim.message_id, claim.first_time))
