"""The archive worker and what a batch job reads of it: canonical messages of one day.

A batch job declares the canonical schemas its run reads (``BatchJob.archives``). While a
system with such a job is connected, ``ebus run`` consumes its own queue ``ebus.archive``,
bound to those feeds, and stores each envelope in the day archive (``runner.stores.archive``):
by ``message_id``, so a redelivered or replayed envelope is stored once. Days older than
``batch.archive_days`` (35) are pruned every hour. No connected job archives anything: no
queue, no thread.

A job run reads a day back through its context (``BusPollContext.day_messages``) and renders
it with the outbound mapping of its message (``render_document``, via ``render_accepted``)::

    envelopes = ctx.day_messages(("enforcement.case.v1",), dt.date(2024, 3, 5))
    document = ctx.render_document("upload_daily_package", envelopes)  # b"" when none taken

Any number of ``ebus run`` processes may archive: they compete for the one queue and the
store ignores a message id it already holds.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from runner.batch.jobs import job_registry
from runner.bus import ACK, Disposition, Message, Reject
from runner.bus.topology import QueueSpec, Topology, feed_binding
from runner.engine.services import Services
from runner.errors import ConfigError, MessageRejected, PermanentError
from runner.logs import get_logger
from runner.mapping.outbound import OutboundMapping
from runner.stamp import now
from runner.stores.archive import ArchiveStore, archive_row
from schemas import ENVELOPES, parse_envelope
from schemas.envelope import EnvelopeDraft
from schemas.timeutil import SHANGHAI

__all__ = [
    "PRUNE_EVERY_S",
    "QUEUE",
    "ArchiveWorker",
    "Rendered",
    "archive_schemas",
    "archive_worker",
    "oldest_day",
    "read_day",
    "render_accepted",
]

log = get_logger("ebus.archive")

QUEUE: Final = "ebus.archive"
"""The archive worker's queue, bound to every archived feed."""
PRUNE_EVERY_S: Final = 3600.0
"""How often the worker deletes the days past retention."""


def archive_schemas(services: Services) -> tuple[str, ...]:
    """The schemas the connected systems' batch jobs read (sorted); ``ConfigError`` for one
    that is no canonical schema."""
    jobs = job_registry(services.project.registry, services.settings.systems)
    schemas: set[str] = set()
    for job in jobs.values():
        for schema in job.spec.archives:
            if schema not in ENVELOPES:
                raise ConfigError(
                    f"batch job {job.id} archives '{schema}', which is no canonical schema; "
                    f"known: {', '.join(sorted(ENVELOPES))}"
                )
            schemas.add(schema)
    return tuple(sorted(schemas))


def archive_worker(services: Services) -> ArchiveWorker | None:
    """The archive worker the runtime runs, or None when no connected job reads a day."""
    schemas = archive_schemas(services)
    return ArchiveWorker(services, schemas) if schemas else None


def oldest_day(today: dt.date, keep_days: int) -> dt.date:
    """The oldest day an archive kept for ``keep_days`` still holds on ``today``."""
    return today - dt.timedelta(days=keep_days)


class ArchiveWorker:
    """Stores the envelopes of ``schemas`` from its queue in the day archive."""

    def __init__(self, services: Services, schemas: Sequence[str], queue: str = QUEUE) -> None:
        self.services = services
        self.schemas = frozenset(schemas)
        self.queue = queue
        self.store = ArchiveStore(services.db)
        self.topology = Topology(
            queues=(QueueSpec(queue),),
            bindings=tuple(feed_binding(schema, queue) for schema in sorted(self.schemas)),
        )

    def declare(self) -> None:
        """Declare the queue and its bindings, then record that archiving has begun (from now
        on, what the feeds carry is archived)."""
        self.services.bus.declare(self.topology)
        self.store.begin(sorted(self.schemas), now())

    def __call__(self, batch: list[Message]) -> list[Disposition]:
        """Archive one batch (the bus handler); a body that is no stamped envelope goes to
        the queue's dead-letter queue, the others are stored in one transaction."""
        rows: list[dict[str, Any]] = []
        dispositions: list[Disposition] = []
        for item in batch:
            try:
                envelope = json.loads(item.body)
                row = archive_row(envelope)
            except (ValueError, KeyError, TypeError) as exc:
                dispositions.append(Reject(f"not a stamped canonical envelope ({exc!r:.80})"))
                continue
            if row["schema"] in self.schemas:  # a wider binding may bring others
                rows.append(row)
            dispositions.append(ACK)
        self.store.add_rows(rows)
        log.info("archive batch", size=len(batch), archived=len(rows))
        return dispositions

    def prune(self, today: dt.date) -> int:
        """Delete the days past retention on ``today``; returns how many envelopes went."""
        keep = self.services.settings.batch.archive_days
        deleted = self.store.prune(before=oldest_day(today, keep))
        if deleted:
            log.info("archive pruned", deleted=deleted, keep_days=keep)
        return deleted

    def threads(
        self, stop: threading.Event, batch_size: int = 100, batch_wait_s: float = 0.02
    ) -> list[tuple[str, Callable[[], None]]]:
        """The worker's loops, named, for the runtime to run on threads until ``stop``."""

        def consume() -> None:
            self.services.bus.consume(
                self.queue, self, batch_size=batch_size, batch_wait_s=batch_wait_s, stop=stop
            )

        def prune() -> None:
            while not stop.is_set():
                self.prune(now().date())
                stop.wait(PRUNE_EVERY_S)

        return [(f"consume {self.queue}", consume), ("prune the day archive", prune)]


def read_day(
    services: Services,
    declared: Iterable[str],
    schemas: Sequence[str],
    day: dt.date,
    today: dt.date,
) -> list[dict[str, Any]]:
    """The archived envelopes of ``schemas`` received on ``day``, in the order received.

    ``PermanentError`` (never an empty day that is not one) for a schema not ``declared`` by
    the job (``NOT_ARCHIVED``), a schema the archive never ran for (``NO_ARCHIVE``), a day
    past retention (``ARCHIVE_EXPIRED``) and a day before archiving began (``BEFORE_ARCHIVE``;
    the day it began is read, partial as it is).
    """
    store = ArchiveStore(services.db)
    missing = sorted(set(schemas) - set(declared))
    if missing:
        raise PermanentError(
            f"day_messages: {', '.join(missing)} not in the job's BatchJob.archives",
            code="NOT_ARCHIVED",
        )
    began = {schema: store.since(schema) for schema in schemas}
    for schema, since in began.items():
        if since is None:
            raise PermanentError(
                f"day_messages: {schema} was never archived (no `ebus run` with this job's "
                "system connected has run yet)",
                code="NO_ARCHIVE",
            )
    keep = services.settings.batch.archive_days
    if day < oldest_day(today, keep):
        raise PermanentError(
            f"day_messages: {day.isoformat()} is older than the archive keeps ({keep} days)",
            code="ARCHIVE_EXPIRED",
        )
    for schema, since in began.items():
        if since is not None and day < since.astimezone(SHANGHAI).date():
            raise PermanentError(
                f"day_messages: archiving {schema} began on {since.astimezone(SHANGHAI):%Y-%m-%d}"
                f", after {day.isoformat()}",
                code="BEFORE_ARCHIVE",
            )
    return store.day(schemas, day)


@dataclass(frozen=True)
class Rendered:
    """The document of the envelopes a mapping took, and those it could not render."""

    document: bytes
    refused: tuple[tuple[EnvelopeDraft[Any], MessageRejected], ...] = ()


def render_accepted(mapping: OutboundMapping, envelopes: Sequence[Mapping[str, Any]]) -> Rendered:
    """The document ``mapping`` renders for those of ``envelopes`` it accepts (``b""`` for
    none). When one cannot be rendered, each is tried alone: the refused ones are returned
    with their reason and the document carries the others."""
    drafts = [parse_envelope(dict(e), draft=True) for e in envelopes]
    taken = [d for d in drafts if mapping.accepts_message(mapping.view(d))]
    if len(taken) > mapping.batch_max:
        raise PermanentError(
            f"{mapping.system} {mapping.message} takes at most {mapping.batch_max} messages "
            f"in one document, the day has {len(taken)}",
            code="TOO_MANY_MESSAGES",
        )
    if not taken:
        return Rendered(b"")
    try:
        return Rendered(mapping.render(taken))
    except MessageRejected:
        pass  # find the culprits below
    good: list[EnvelopeDraft[Any]] = []
    refused: list[tuple[EnvelopeDraft[Any], MessageRejected]] = []
    for draft in taken:
        try:
            mapping.render([draft])
            good.append(draft)
        except MessageRejected as exc:
            refused.append((draft, exc))
    return Rendered(mapping.render(good) if good else b"", tuple(refused))
