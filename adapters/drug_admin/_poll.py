"""The drug_admin poller: one cycle of README §2.4 for ``QueryInspections`` and ``QueryPenalties``.

For each operation, from its own cursor (the largest ``UpdateTime`` seen, Beijing time)::

    since = cursor[op] (first cycle: config.initial_since, default now − 1 day;
                        never older than now − max_lookback_days: the service answers 3001)
    page = 1
    loop:
        op(SinceTime=since, PageNo=page, PageSize)     one request per request_spacing_s
        emit the answer as message type op             (a page with records; as received)
        commit cursor[op] = largest UpdateTime so far  (seconds, fraction dropped)
        stop when HasMore is false (or after max_pages)
        since, page = largest UpdateTime, 1            when it moved; else page + 1

The next page is asked for from the largest ``UpdateTime`` seen (keyset paging) rather than as
``PageNo + 1``: the service computes pages on each call and moves a record updated meanwhile to
the end, so offset paging can skip the record that slides back over the page boundary. The
bound is inclusive, so the boundary records come back (on the next page and on the next cycle)
and are recognised downstream by their ``source_message_id`` (``RecordId#Version``). When a
whole page shares one second, ``PageNo`` goes up instead, so the cycle always progresses.

The interface has no upper bound: a query reads everything from ``SinceTime`` up to now, and the
service refuses (``ResultCode`` 3001) a ``SinceTime`` more than 31 days before its own clock.
Records updated before that cannot be read at all, so "catching up in 31-day steps" (README §5.1)
is one step here: the oldest ``SinceTime`` allowed, paged forward to now (cursor committed per
page), with the span skipped kept as the ``gap:<op>`` fact. A 3001 all the same (the service's
clock ahead of ours) narrows ``SinceTime`` by ``NARROW_STEP`` and asks again, widening the gap
fact, instead of failing every cycle the same way.

Faults and other ``ResultCode`` ≠ 0 raise (``adapters.drug_admin._answers``): the runtime retries
the cycle from the last commit. A page whose ``ResultXml`` cannot be read is emitted once (the
mapping dead-letters it with its rule; a durable fact keyed by its digest keeps a re-read of
the same bytes from being dead-lettered again) and does not move the cursor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable

from adapters.drug_admin._answers import ResultCodeError, response_element
from adapters.drug_admin._calls import query_request
from adapters.drug_admin._config import DrugAdminConfig, as_config
from adapters.drug_admin._pages import read_page
from runner.adapter_api import AdapterConfig, CallContext, PollContext, RawMessage
from schemas.timeutil import SHANGHAI

__all__ = ["QUERIES", "poll", "start_since"]

QUERIES = ("query_inspections", "query_penalties")
"""The polled message types, in the order of a cycle."""
DEFAULT_START = dt.timedelta(days=1)
"""How far back the first cycle reads when ``initial_since`` is not configured."""
OUT_OF_RANGE = "3001"
"""``ResultCode`` of a ``SinceTime`` more than 31 days back by the service's clock."""
NARROW_STEP = dt.timedelta(hours=1)
"""How far ``SinceTime`` moves up after a 3001 before the page is asked for again."""


def _beijing_naive(at: dt.datetime) -> dt.datetime:
    local = at.astimezone(SHANGHAI).replace(tzinfo=None) if at.tzinfo else at
    return local.replace(microsecond=0)


def start_since(
    ctx: PollContext, config: DrugAdminConfig, message_id: str, stored: str | None
) -> dt.datetime:
    """The ``SinceTime`` a cycle starts ``message_id`` from (naive Beijing time).

    A start older than ``max_lookback_days`` is moved up to that bound, and the span skipped is
    remembered as the durable fact ``gap:<message_id>`` (``{"from", "to"}``) for the operators.
    """
    now = _beijing_naive(ctx.now)
    if stored is not None:
        since = dt.datetime.fromisoformat(stored)
    elif config.initial_since is not None:
        since = _beijing_naive(config.initial_since)
    else:
        since = now - DEFAULT_START
    floor = now - dt.timedelta(days=config.max_lookback_days)
    if since < floor:
        ctx.remember(f"gap:{message_id}", {"from": since.isoformat(), "to": floor.isoformat()})
        since = floor
    return since


class _Pacer:
    """At most one request per ``spacing_s`` (the service's 1 request per 5 s per operation)."""

    def __init__(self, spacing_s: float, sleep: Callable[[float], None]) -> None:
        self.spacing_s = spacing_s
        self.sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None and self.spacing_s:
            remaining = self.spacing_s - (time.monotonic() - self._last)
            if remaining > 0:
                self.sleep(remaining)
        self._last = time.monotonic()


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: one cycle; commits ``{query_inspections: ISO, query_penalties:
    ISO}`` (naive Beijing ``UpdateTime``) after every page."""
    settings = as_config(config)
    cursor = dict(ctx.cursor() or {})
    for message_id in QUERIES:
        since = start_since(ctx, settings, message_id, cursor.get(message_id))
        _poll_query(ctx, settings, message_id, since, cursor)


def _poll_query(
    ctx: PollContext,
    config: DrugAdminConfig,
    message_id: str,
    since: dt.datetime,
    cursor: dict[str, str],
) -> None:
    pacer = _Pacer(config.request_spacing_s, time.sleep)
    latest, page_no = since, 1
    for _ in range(config.max_pages):
        pacer.wait()
        request = query_request(
            message_id, config, CallContext(now=ctx.now), since, page_no, config.page_size
        )
        raw = ctx.call(message_id, request)
        try:
            element = response_element(raw, message_id)
        except ResultCodeError as exc:
            if exc.code != OUT_OF_RANGE or since >= _beijing_naive(ctx.now):
                raise
            # The service's clock runs ahead of ours: narrow SinceTime one step and ask again.
            since = latest = _narrowed(ctx, message_id, since)
            page_no, cursor[message_id] = 1, since.isoformat()
            ctx.commit(dict(cursor))  # the gap is recorded: the next cycle starts here too
            continue
        page = read_page(element)
        if page.keys or page.unreadable:
            _emit(ctx, message_id, raw, unreadable=page.unreadable is not None)
        latest = max([latest, *page.update_times])
        cursor[message_id] = latest.isoformat()
        ctx.commit(dict(cursor))
        if not page.has_more:
            return
        if latest > since:
            since, page_no = latest, 1
        else:
            page_no += 1


def _narrowed(ctx: PollContext, message_id: str, since: dt.datetime) -> dt.datetime:
    """``since`` moved up by ``NARROW_STEP`` (not past now); the span skipped joins the gap fact."""
    narrowed = min(since + NARROW_STEP, _beijing_naive(ctx.now))
    gap = ctx.recall(f"gap:{message_id}") or {}
    start = min(gap.get("from", since.isoformat()), since.isoformat())
    ctx.remember(f"gap:{message_id}", {"from": start, "to": narrowed.isoformat()})
    return narrowed


def _emit(ctx: PollContext, message_id: str, raw: RawMessage, *, unreadable: bool) -> None:
    """Emit a page; an unreadable one only the first time its exact bytes are seen."""
    fact = f"unreadable:{message_id}:{hashlib.sha256(raw.body).hexdigest()[:32]}"
    if unreadable and ctx.recall(fact) is not None:
        return
    ctx.emit(message_id, raw)
    if unreadable:
        ctx.remember(fact, {"bytes": len(raw.body)})
