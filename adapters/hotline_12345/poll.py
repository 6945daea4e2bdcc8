"""The hotline_12345 poller: one cycle of README §2.1.

::

    cursor = stored cursor | config.initial_cursor | none (only with new_subscription: true)
    loop (at most max_pages_per_cycle pages):
        GET /api/v3/workorders?cursor=<percent-encoded>&limit=<page_size>
        not a page (code ≠ 0000, HTML, 429 …)  → raise (TransientError / PermanentError, §7)
        emit workorders_page, one message per work order   (stored before emit returns)
        commit {"cursor": nextCursor}                      only after the whole page was emitted
        hasMore false → the cycle ends (the runtime waits the poll interval, ≥ 30 s)

Each work order is emitted as a page of one (same ``code``, ``msg``, ``nextCursor``,
``serverTime``, the item unchanged), so that one item that cannot be mapped is dead-lettered
alone while the rest of the page goes on (§2.1 rule 6): the runtime rejects a message whole.

A crash before a commit reads the page again (§2.1 rule 4): re-read and re-pushed work orders
(Q5) carry the same ``GDBH#PDXH`` and are recognised by the idempotency key downstream. An
empty page returns the cursor sent (rule 2): nothing is emitted and nothing committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from adapters.hotline_12345.config import Hotline12345Config, as_config
from adapters.hotline_12345.transport import LOCKED_KEY_WAIT_S, retry_after_s
from adapters.hotline_12345.wire import answer_json, workorders_request
from runner.adapter_api import (
    AdapterConfig,
    PermanentError,
    PollContext,
    RawMessage,
    TransientError,
)

__all__ = ["Page", "poll", "read_page", "start_cursor"]

MESSAGE = "workorders_page"
RETRY_CODES = frozenset({"1429", "1103", "9999"})
"""Error codes worth retrying (README §7); every other non-0000 code is permanent."""


@dataclass(frozen=True)
class Page:
    """One page answer: its document (for re-framing items), items, next cursor, more to come."""

    document: dict[str, Any]
    items: list[Any]
    next_cursor: str
    has_more: bool


def start_cursor(stored: dict[str, Any] | None, config: Hotline12345Config) -> str | None:
    """Where a cycle starts: the stored cursor, else ``initial_cursor``, else (only for a new
    subscription) no cursor. Anything else is refused: it would skip orders (§2.1 rule 5)."""
    if stored is not None and isinstance(stored.get("cursor"), str) and stored["cursor"]:
        return str(stored["cursor"])
    if config.initial_cursor:
        return config.initial_cursor
    if config.new_subscription:
        return None
    raise PermanentError(
        "hotline_12345: no stored cursor; set initial_cursor (a replay cursor from the 12345 "
        "operations team) or new_subscription: true for a new subscription",
        code="NO_CURSOR",
    )


def _refusal(status: int, code: str | None, answer: RawMessage) -> Exception:
    """The error of an answer that is not a page (README §7)."""
    label = code or f"HTTP{status}"
    if status == 429 or code == "1429":
        wait = retry_after_s(answer.headers.get("retry-after"))
        return TransientError(
            f"hotline_12345: rate limited ({label})", code=label, retry_after=wait
        )
    if code == "1103":
        return TransientError(
            "hotline_12345: API key locked for 10 minutes", code=code, retry_after=LOCKED_KEY_WAIT_S
        )
    if code in RETRY_CODES or (code is None and (status >= 500 or status == 408)):
        return TransientError(f"hotline_12345: platform busy ({label})", code=label)
    if code is None and status < 400:  # not an answer we can read: its outcome is unknown
        return TransientError(f"hotline_12345: unreadable answer ({label})", code=label)
    if code == "1002":
        return PermanentError(
            "hotline_12345: cursor unknown or older than 30 days (1002); ask the 12345 "
            "operations team for a replay and set initial_cursor, never restart without one",
            code=code,
        )
    return PermanentError(f"hotline_12345: the work-order list was refused ({label})", code=label)


def read_page(answer: RawMessage) -> Page:
    """The page in ``answer``, or the ``TransientError`` / ``PermanentError`` of §7.

    A ``0000`` answer that is not a well-formed page leaves the outcome unknown: it is
    retried (``TransientError``), the cursor untouched.
    """
    status = int(answer.meta.get("status") or "200")
    document = answer_json(answer.body)
    code = document.get("code") if isinstance(document, dict) else None
    if code != "0000" or not isinstance(document, dict):
        raise _refusal(status, code if isinstance(code, str) else None, answer)
    data = document.get("data")
    items = data.get("items") if isinstance(data, dict) else None
    cursor = data.get("nextCursor") if isinstance(data, dict) else None
    more = data.get("hasMore") if isinstance(data, dict) else None
    if not isinstance(items, list) or not isinstance(cursor, str) or not cursor:
        raise TransientError("hotline_12345: malformed page (items, nextCursor)", code="MALFORMED")
    if not isinstance(more, bool):
        raise TransientError("hotline_12345: malformed page (hasMore)", code="MALFORMED")
    return Page(document, items, cursor, more)


def _single(page: Page, item: Any, answer: RawMessage) -> RawMessage:
    """One work order as a page of one, with the answer's transport facts."""
    document = {**page.document, "data": {**page.document["data"], "items": [item]}}
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return RawMessage(body, answer.headers, answer.meta, answer.received_at)


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: one cycle; commits ``{"cursor": nextCursor}`` after each page."""
    settings = as_config(config)
    cursor = start_cursor(ctx.cursor(), settings)
    for _ in range(settings.max_pages_per_cycle):
        answer = ctx.call(MESSAGE, workorders_request(settings, cursor))
        page = read_page(answer)
        for item in page.items:
            ctx.emit(MESSAGE, _single(page, item, answer))
        if page.next_cursor != cursor:
            ctx.commit({"cursor": page.next_cursor})
            cursor = page.next_cursor
        if not page.has_more:
            return
