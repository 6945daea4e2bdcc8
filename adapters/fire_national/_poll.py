"""The fire_national poller: one cycle of README §2.7.

::

    cursor = ""                                        (unacknowledged tasks come back every poll)
    loop (at most max_pages_per_cycle pages):
        GET /api/v2/province/35/tasks?<sealed {"cursor": cursor, "pageSize": N}>
        plain error answer / gateway 5xx / not JSON    → raise TransientError / PermanentError (§5)
        sign does not verify, does not decrypt         → dead-letter the page as received, stop
        emit the page as received (encrypted)          (stored before emit returns)
        hasMore false → the cycle ends; else cursor = nextCursor

The page is emitted whole, exactly as received: its signature covers it, and a dead letter must
keep the wire bytes (encrypted). The mapping of ``tasks`` rejects a single bad task on its own
while the page's other tasks go on. Acknowledging (``POST …/tasks/ack``) is a route destination:
``routes/fire_national-tasks.yaml`` sends each task version mapped to ``enforcement.case.v1``
to ``fire_national`` ``tasks_ack``, after the envelope was stored; a rejected task is never
acknowledged, so the national side serves it again (§5).

No cursor is committed: every cycle starts from the first page (§2.7 step 1); re-served task
versions keep their ``taskId:v<version>`` and are recognised as duplicates downstream.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from adapters.fire_national._config import FireNationalConfig, as_config
from adapters.fire_national._envelope import epoch_ms, query_string, seal
from adapters.fire_national._wire import PATHS, answer_json, compact, keys_of, open_page
from runner.adapter_api import (
    AdapterConfig,
    MessageRejected,
    Outgoing,
    PermanentError,
    PollContext,
    RawMessage,
    TransientError,
)

__all__ = ["MESSAGE", "Page", "poll", "read_page", "tasks_request"]

MESSAGE = "tasks"
RETRY_CODES = frozenset({"40102", "40103", "42900", "50000", "50300"})
"""Result codes worth retrying (README §5); every other error code is permanent."""
RATE_LIMIT_WAIT_S = 60.0


@dataclass(frozen=True)
class Page:
    """One decrypted page: whether more follow and where."""

    has_more: bool
    next_cursor: str | None
    tasks: int


def tasks_request(
    config: FireNationalConfig, cursor: str, timestamp: str, nonce: str | None = None
) -> Outgoing:
    """The ``GET …/tasks`` call for ``cursor``: the five envelope fields as a percent-encoded
    query (§2.4), signed over the raw Base64 text."""
    payload = compact({"cursor": cursor, "pageSize": config.page_size})
    envelope = seal(keys_of(config), payload, timestamp, nonce or secrets.token_hex(16))
    path = PATHS[MESSAGE].format(province=config.province_code)
    return Outgoing(
        body=b"",
        headers={"Accept": "application/json"},
        method="GET",
        path=f"{path}?{query_string(envelope)}",
        operation=MESSAGE,
    )


def _refusal(status: int, code: str | None) -> Exception:
    """The error of an answer that is not a page (README §5)."""
    label = code or f"HTTP{status}"
    if code == "42900":
        return TransientError(
            "fire_national: rate limited (42900)", code=code, retry_after=RATE_LIMIT_WAIT_S
        )
    if code in RETRY_CODES or (code is None and (status >= 500 or status == 408)):
        return TransientError(f"fire_national: the tasks poll was not served ({label})", code=label)
    if code is None and status < 400:
        return TransientError(f"fire_national: unreadable tasks answer ({label})", code=label)
    return PermanentError(f"fire_national: the tasks poll was refused ({label})", code=label)


def read_page(answer: RawMessage, config: AdapterConfig) -> Page:
    """The page in ``answer`` (signature verified, decrypted), or the error of §5.

    ``MessageRejected`` when the page fails the checks of §2.5 (the caller dead-letters it);
    ``TransientError`` / ``PermanentError`` when the answer is not a page at all.
    """
    status = int(answer.meta.get("status") or "200")
    document = answer_json(answer.body)
    code = document.get("code") if isinstance(document, dict) else None
    if not isinstance(document, dict) or code != "0":
        raise _refusal(status, code if isinstance(code, str) else None)
    page: Any = json.loads(open_page(config, document))
    tasks = page.get("tasks") if isinstance(page, dict) else None
    more = page.get("hasMore") if isinstance(page, dict) else None
    cursor = page.get("nextCursor") if isinstance(page, dict) else None
    if not isinstance(tasks, list) or not isinstance(more, bool):
        raise MessageRejected(
            "the decrypted page has no tasks list or hasMore flag", field="tasks", rule="page"
        )
    if more and not (isinstance(cursor, str) and cursor):
        raise MessageRejected(
            "the page says hasMore but gives no nextCursor", field="nextCursor", rule="page"
        )
    return Page(more, cursor if isinstance(cursor, str) else None, len(tasks))


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: one cycle, every page from the first (see the module docstring)."""
    settings = as_config(config)
    cursor = ""
    for _ in range(settings.max_pages_per_cycle):
        answer = ctx.call(MESSAGE, tasks_request(settings, cursor, epoch_ms(ctx.now)))
        try:
            page = read_page(answer, settings)
        except MessageRejected as exc:
            ctx.reject(MESSAGE, answer, exc)
            return
        ctx.emit(MESSAGE, answer)
        if not page.has_more or page.next_cursor is None or page.next_cursor == cursor:
            return
        cursor = page.next_cursor
