"""The eco_env poller: one cycle of README §3.2.

A cycle reads the cases updated in a window, page by page, and the penalty decision of every
case that has one::

    start = cursor.end − overlap (first cycle: config.initial_start)   end = now − 1 minute
    for each sub-window of at most 7 days:
        GetCaseList(start, end, page 1..n)    until pageIndex × pageSize ≥ TotalCount
            emit get_case_list_response        (every page answer, as received)
            GetPenaltyDecision(CaseId)         for each CaseInfo with HasDecision = 是
                emit get_penalty_decision_response   (<Error> 1005: skipped, it is normal)
        commit {"end": end}                    only after all of the window was emitted

Any other error or Fault raises (``TransientError`` when §6 says retry), so the runtime retries
the cycle from the last committed cursor; the overlap and the inclusive window ends bring the
same case versions back (quirk Q8), recognised downstream by their ``source_message_id``.

The poller reads only ``TotalCount``, ``CaseId`` and ``HasDecision``: mapping is the
route's job. A case that comes on two pages has its decision asked for once per window. A
``TotalCount`` that changes between pages means records moved while we paged (offset paging
can then skip one): the window is not committed and the cycle is retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from adapters.eco_env._answers import ErrorAnswer, result_document
from adapters.eco_env._calls import get_case_list_request, get_penalty_decision_request
from adapters.eco_env._config import EcoEnvConfig, as_config
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    PermanentError,
    PollContext,
    TransientError,
)
from schemas.timeutil import SHANGHAI

__all__ = ["END_LAG", "MAX_SPAN", "poll", "windows"]

MAX_SPAN = dt.timedelta(days=7)
"""The longest window GetCaseList accepts (else ``<Error>`` 1002)."""
END_LAG = dt.timedelta(minutes=1)
"""A window ends one minute before now (commits still in flight on the server)."""
SKIPPED_DECISION_ERRORS = frozenset({"1005"})
"""该案件尚未作出处罚决定: the case's HasDecision changed back since the page was read."""


def _beijing(at: dt.datetime) -> dt.datetime:
    at = at.replace(tzinfo=SHANGHAI) if at.tzinfo is None else at.astimezone(SHANGHAI)
    return at.replace(microsecond=0)


def windows(
    cursor: dict[str, Any] | None, now: dt.datetime, config: EcoEnvConfig
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The windows of one cycle, in order: ``[start, end]`` split into spans of ≤ 7 days.

    Consecutive windows share their boundary second (both ends are inclusive, so nothing
    falls between them). Empty when the clock has not moved past the start.
    """
    end = _beijing(now) - END_LAG
    if cursor is not None:
        start = _beijing(dt.datetime.fromisoformat(str(cursor["end"])))
        start -= dt.timedelta(seconds=config.window_overlap_s)
    elif config.initial_start is not None:
        start = _beijing(config.initial_start)
    else:
        start = end - dt.timedelta(seconds=config.poll_interval_s + config.window_overlap_s)
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    while start < end:
        stop = min(start + MAX_SPAN, end)
        spans.append((start, stop))
        start = stop
    return spans


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: one cycle; commits ``{"end": ISO time}`` after each window."""
    settings = as_config(config)
    for start, end in windows(ctx.cursor(), ctx.now, settings):
        _poll_window(ctx, settings, start, end)
        ctx.commit({"end": end.isoformat()})


def _call(ctx: PollContext) -> CallContext:
    """The clock of one request (read per request: a long cycle must not sign a stale time)."""
    return CallContext(now=ctx.now)


def _poll_window(
    ctx: PollContext, config: EcoEnvConfig, start: dt.datetime, end: dt.datetime
) -> None:
    fetched: set[int] = set()
    total: int | None = None
    page = 1
    while True:
        request = get_case_list_request(config, _call(ctx), start, end, page, config.page_size)
        raw = ctx.call("get_case_list_request", request)
        document = result_document(raw, "GetCaseList", "CaseList")
        count = _integer(document.findtext("TotalCount"), "TotalCount")
        if total is not None and count != total:
            raise TransientError(
                f"eco_env GetCaseList: TotalCount went from {total} to {count} while paging "
                f"{start.isoformat()}..{end.isoformat()}; the window is read again",
                code="WINDOW_CHANGED",
            )
        total = count
        ctx.emit("get_case_list_response", raw)
        for case_id in _decided_cases(document):
            if case_id not in fetched:
                fetched.add(case_id)
                _fetch_decision(ctx, config, case_id)
        if page * config.page_size >= total:
            return
        page += 1


def _decided_cases(document: Any) -> Iterator[int]:
    """The ``CaseId`` of every ``CaseInfo`` whose ``HasDecision`` is 是, in page order."""
    for case in document.iterfind("Cases/CaseInfo"):
        if (case.findtext("HasDecision") or "").strip() == "是":
            yield _integer(case.findtext("CaseId"), "CaseId")


def _integer(text: str | None, name: str) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        raise PermanentError(
            f"eco_env GetCaseList: {name} is not an integer", code="SOAP_ANSWER"
        ) from None


def _fetch_decision(ctx: PollContext, config: EcoEnvConfig, case_id: int) -> None:
    request = get_penalty_decision_request(config, _call(ctx), case_id)
    raw = ctx.call("get_penalty_decision_request", request)
    try:
        result_document(raw, "GetPenaltyDecision", "PenaltyDecision")
    except ErrorAnswer as exc:
        if exc.code in SKIPPED_DECISION_ERRORS:
            return
        raise
    ctx.emit("get_penalty_decision_response", raw)
