"""The health poller: one cycle of README §2.1 with the version rule of §2.2.

::

    since = stored {"hwm": ms} | config.initial_since            (never 0, §2.1 rule 3)
    page 0, 1, …  until data.last (the same updatedSince while paging):
        GET /api/supervision/cases?updatedSince=<since>&page=<n>&size=<page_size>
        not a page (§5: 400/401/403, 429, 500, 502-504, HTML) → raise; the HWM does not move
        for each record (one page of one per record, so that a bad one is dead-lettered alone):
            stored version of its id (ctx.recall "version:<id>")
              none or lower   → emit, then remember {"version": v}     (map and forward)
              equal           → skip                                  (boundary repeat, Q4)
              higher          → skip, log at INFO                     (stale replica read, Q3)
    commit {"hwm": the largest updateTime seen}       only after every page was emitted

The bound is inclusive (Q4), so the records at the HWM come back next cycle and are skipped
as duplicates. Offset paging can skip a record when a record of the result set is updated
while we page (it moves to the end and shifts the rest back by one). Such a move shows as the
same ``id`` twice in one cycle; the pages are then read again from page 0 with the same
``updatedSince`` (at most ``REREADS`` times, then the cycle fails, HWM untouched): what was
forwarded already is skipped by its version.

A record whose ``id`` or ``version`` is unusable is emitted anyway, unremembered: its
mapping rejects it with the field and the rule. Only ids and versions are logged (L1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from adapters.health.config import HealthConfig, as_config
from adapters.health.transport import retry_after_s
from adapters.health.wire import MESSAGE, SUCCESS, answer_json, cases_request, page_of_one
from runner.adapter_api import (
    AdapterConfig,
    PermanentError,
    PollContext,
    RawMessage,
    TransientError,
)

__all__ = ["REREADS", "Page", "Verdict", "poll", "read_page", "verdict"]

log = logging.getLogger("ebus.adapters.health")

REREADS = 3
"""How often a cycle re-reads its pages when records moved while it paged."""
RETRY_CODES = frozenset({42901, 50000})
"""Body codes worth retrying (README §5); every other code is permanent."""


@dataclass(frozen=True)
class Page:
    """One page answer: its document, its records (``"null"`` not yet normalised) and ``last``."""

    document: dict[str, Any]
    records: list[Any]
    last: bool


def _refusal(status: int, code: Any, answer: RawMessage) -> Exception:
    """The error of an answer that is not a page (README §5)."""
    label = str(code) if isinstance(code, int) and not isinstance(code, bool) else f"HTTP{status}"
    if status == 429 or code == 42901:
        wait = retry_after_s(answer.headers.get("retry-after"))
        return TransientError(f"health: rate limited ({label})", code=label, retry_after=wait)
    if code in RETRY_CODES or status >= 500 or status == 408:
        return TransientError(f"health: server or gateway error ({label})", code=label)
    if status < 400:  # an answer we cannot read: its outcome is unknown
        return TransientError(f"health: unreadable answer ({label})", code=label)
    return PermanentError(
        f"health: the case list was refused ({label}); fix the parameters, the API key or the "
        "client certificate registration (README §5)",
        code=label,
    )


def read_page(answer: RawMessage) -> Page:
    """The page in ``answer``, or the ``TransientError`` / ``PermanentError`` of README §5."""
    status = int(answer.meta.get("status") or "200")
    document = answer_json(answer.body)
    code = document.get("code") if isinstance(document, dict) else None
    if not isinstance(document, dict) or code != SUCCESS or status >= 300:
        raise _refusal(status, code, answer)
    data = document.get("data")
    records = data.get("content") if isinstance(data, dict) else None
    last = data.get("last") if isinstance(data, dict) else None
    if not isinstance(records, list) or not isinstance(last, bool):
        raise TransientError("health: malformed page (data.content, data.last)", code="MALFORMED")
    return Page(document, records, last)


Verdict = str
"""``forward`` | ``duplicate`` | ``stale`` | ``unusable`` (see ``verdict``)."""


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _identity(record: Any) -> tuple[str, int] | None:
    """(id, version) of a record, or None when either is unusable (the mapping says why)."""
    if not isinstance(record, dict):
        return None
    record_id, version = record.get("id"), _whole(record.get("version"))
    if not isinstance(record_id, str) or not record_id.isdigit() or version is None:
        return None
    return record_id, version


def verdict(ctx: PollContext, record: Any) -> Verdict:
    """What §2.2 says to do with ``record`` given the version stored for its id."""
    identity = _identity(record)
    if identity is None:
        return "unusable"
    stored = ctx.recall(f"version:{identity[0]}")
    known = _whole(stored.get("version")) if stored else None
    if known is None or identity[1] > known:
        return "forward"
    return "duplicate" if identity[1] == known else "stale"


@dataclass
class _Cycle:
    """The state of one cycle: the HWM it reads from, the largest updateTime seen, ids seen."""

    since: int
    highest: int
    seen: set[str]
    moved: bool = False


def _start(ctx: PollContext, config: HealthConfig) -> int:
    stored = ctx.cursor()
    hwm = _whole(stored.get("hwm")) if stored else None
    return hwm if hwm is not None and hwm > 0 else config.initial_since_ms


def _take(ctx: PollContext, cycle: _Cycle, page: Page, answer: RawMessage) -> None:
    """Emit the records of ``page`` that §2.2 forwards, remembering their versions."""
    for record in page.records:
        update_time = _whole(record.get("updateTime")) if isinstance(record, dict) else None
        if update_time is not None:
            cycle.highest = max(cycle.highest, update_time)
        identity = _identity(record)
        if identity is not None:
            cycle.moved = cycle.moved or identity[0] in cycle.seen
            cycle.seen.add(identity[0])
        found = verdict(ctx, record)
        if found == "duplicate":
            continue
        if found == "stale":
            stored = ctx.recall(f"version:{identity[0]}") if identity else None
            log.info(
                "health: stale record version ignored (read replica, Q3): id %s version %s < %s",
                identity[0] if identity else "?",
                identity[1] if identity else "?",
                (stored or {}).get("version"),
            )
            continue
        ctx.emit(MESSAGE, page_of_one(page.document, record, answer))
        if identity is not None:
            ctx.remember(f"version:{identity[0]}", {"version": identity[1]})


def _read_pages(ctx: PollContext, config: HealthConfig, cycle: _Cycle) -> None:
    """Read pages 0, 1, … until ``last`` or the page budget: the records after the last page
    read have an ``updateTime`` at or above the largest seen, so the next cycle, starting there
    (inclusive), misses none of them."""
    for number in range(config.max_pages_per_cycle):
        answer = ctx.call(MESSAGE, cases_request(config, cycle.since, number))
        page = read_page(answer)
        _take(ctx, cycle, page, answer)
        if page.last:
            return


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: one cycle; commits ``{"hwm": epoch ms}`` after its last page."""
    settings = as_config(config)
    since = _start(ctx, settings)
    cycle = _Cycle(since, since, set())
    for _ in range(REREADS + 1):
        cycle.moved = False
        cycle.seen.clear()
        _read_pages(ctx, settings, cycle)
        if not cycle.moved:
            break
    else:
        raise TransientError(
            "health: records kept moving while the pages were read; the cycle is tried again "
            "from the same high-water mark",
            code="PAGES_MOVED",
        )
    if cycle.highest > since:
        ctx.commit({"hwm": cycle.highest})
