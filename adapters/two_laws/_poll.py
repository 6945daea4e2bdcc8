"""The two_laws poller: one cycle of README §4.1, per agency (收文单位).

A cycle polls ``agencies_per_cycle`` agencies of ``config.org_codes`` in turn (round robin, so
≈ 1 100 agencies spread over the 10-minute interval), each from its own cursor::

    cursor = {"seq": {orgCode: last maxSeq}, "next": index of the next agency}
    for each agency of this cycle:
        since = cursor.seq[orgCode] (0 the first time)
        fetchSupervisionNotices(orgCode, since)
            emit fetch_notices_response once per notice with seq > since   (1. publish)
            cursor.seq[orgCode] = max(since, maxSeq); commit                 (2. then persist)
            hasMore: ask again at once from the new cursor                   (3.)

Each notice is emitted as its own message (the page's bytes as received, with ``meta``
``orgCode``, ``sinceSeq`` and the notice's ``position``), so a notice that fails validation is
dead-lettered alone and the others of its page are published (4.1: a poison notice must not
block the queue). Notices at or below the cursor (replica lag after a restore) are dropped
here and again by the mapping; repeats above it are recognised downstream by their
``source_message_id`` ``orgCode:seq``.

Errors (``adapters.two_laws._answers``): a transient one ends the cycle (the platform is busy or
down; agencies already done keep their commit); a permanent one for one agency (1003
无权操作该机构, a Fault ``Client``) skips that agency and is raised after the others were polled;
1001 认证失败 ends the cycle at once (it concerns every agency).
"""

from __future__ import annotations

from typing import Any

from adapters.two_laws._answers import read_page
from adapters.two_laws._config import TwoLawsConfig, as_config
from adapters.two_laws._wire import fetch_request
from runner.adapter_api import (
    AdapterConfig,
    CallContext,
    PermanentError,
    PollContext,
    RawMessage,
    TransientError,
)

__all__ = ["ACCOUNT_ERRORS", "agencies_of_cycle", "poll"]

ACCOUNT_ERRORS = frozenset({"1001"})
"""Permanent errors that concern the account, not one agency: the cycle stops at once."""


def agencies_of_cycle(cursor: dict[str, Any] | None, config: TwoLawsConfig) -> list[str]:
    """The agencies this cycle polls, in order, starting at the cursor's ``next``."""
    agencies = list(config.org_codes)
    if not agencies:
        return []
    start = int((cursor or {}).get("next", 0)) % len(agencies)
    count = min(config.agencies_per_cycle or len(agencies), len(agencies))
    return [agencies[(start + i) % len(agencies)] for i in range(count)]


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: one cycle (see the module docstring)."""
    settings = as_config(config)
    cursor = ctx.cursor() or {}
    seqs: dict[str, int] = {str(k): int(v) for k, v in dict(cursor.get("seq") or {}).items()}
    agencies = agencies_of_cycle(cursor, settings)
    state: dict[str, Any] = {"seq": seqs, "next": int(cursor.get("next", 0))}
    refused: list[PermanentError] = []
    for org_code in agencies:
        try:
            _poll_agency(ctx, settings, org_code, state)
        except PermanentError as exc:
            if exc.code in ACCOUNT_ERRORS:
                raise
            refused.append(exc)
    if agencies:
        state["next"] = (int(state["next"]) + len(agencies)) % len(settings.org_codes)
        ctx.commit(_snapshot(state))
    if refused:
        raise refused[0]


def _snapshot(state: dict[str, Any]) -> dict[str, Any]:
    return {"seq": dict(state["seq"]), "next": state["next"]}


def _poll_agency(
    ctx: PollContext, config: TwoLawsConfig, org_code: str, state: dict[str, Any]
) -> None:
    seqs: dict[str, int] = state["seq"]
    for _ in range(config.max_pages):
        since = seqs.get(org_code, 0)
        call = fetch_request(config, CallContext(now=ctx.now), org_code, since)
        raw = ctx.call("fetch_notices_request", call)
        page = read_page(raw)
        for position, seq in enumerate(page.seqs, start=1):
            if seq is None or seq > since:
                meta = {**raw.meta, "orgCode": org_code, "sinceSeq": str(since)}
                meta["position"] = str(position)
                ctx.emit(
                    "fetch_notices_response",
                    RawMessage(raw.body, raw.headers, meta, raw.received_at),
                )
        seqs[org_code] = max(since, page.max_seq)
        ctx.commit(_snapshot(state))
        if not page.has_more:
            return
        if seqs[org_code] == since:
            raise TransientError(
                f"two_laws fetchSupervisionNotices: hasMore without progress past {since}",
                code="NO_PROGRESS",
            )
