"""The scheduled work of culture_tourism_national (``SPEC.batch_jobs``, README §1.1, §2.4, §2.5).

``daily_upload`` for business date D (01:30 on D+1), safe to run again at any point:

1. unless a batch of D was already accepted (``recall('upload:D')``), build the package of D
   from the canonical cases and decisions the bus received on D (``day_messages``: the job
   declares ``archives=PACKAGE_SCHEMAS``, so the runtime keeps them by day), upload it
   and remember ``batchId`` and the package's records. The same package again answers
   ``2003`` with the original ``batchId`` (success); ``2001`` is rebuilt and sent once more;
2. ask ``queryBatchResult`` (at most every ``query_interval_s``): ``PROCESSING`` raises
   ``TransientError(retry_after=…)`` — run again later; ``SUCCESS``/``PARTIAL`` finish the
   date; ``FAILED`` (and ``2101``) raise ``PermanentError`` and let a later run upload D anew.

The package's records are the outbound mapping's document (``render_document``) of the day's
envelopes it accepts (WL agencies of Fujian); a day with none still gets a package (two empty
lists, README §3.1). Every answer is also emitted (``upload_daily_package_response``,
``query_batch_result``): the run's context settles it as a delivery outcome (audited; a record
the ministry refused is dead-lettered with its ``errorCode`` and the code's meaning). A query's
answer carries ``meta['package_records']`` (what its mapping matches the errors against) and
``meta['call_records']`` (per package record: the canonical message it came from, and the
reason of a refusal).

``blacklist`` for D (06:30 on D+1): ``downloadBlacklist(D)``; ``3001`` (not ready), ``4290``
and ``5000`` raise ``TransientError``; a download that cannot be opened (sha256, ZIP, XML, DTD)
is dead-lettered with ``reject`` and raises ``PermanentError``; a good one is emitted as
``download_blacklist`` (one ``enforcement.dishonest_check.v1`` per entry; the bus recognises an
``entryId`` it already mapped by its source message id) and D is remembered as done.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from adapters.culture_tourism_national._answers import RETRY_AFTER_S, read_answer, record_reasons
from adapters.culture_tourism_national._config import CultureTourismConfig, as_config
from adapters.culture_tourism_national._package import Package, build_package
from adapters.culture_tourism_national._wire import (
    blacklist_document,
    download_blacklist_request,
    package_records_meta,
    query_batch_result_request,
    upload_request,
)
from runner.adapter_api import (
    AdapterConfig,
    BatchJob,
    MessageRejected,
    PermanentError,
    PollContext,
    RawMessage,
    TransientError,
)

__all__ = [
    "BLACKLIST_JOB",
    "PACKAGE_SCHEMAS",
    "UPLOAD_JOB",
    "build_day_package",
    "run_blacklist",
    "run_daily_upload",
]

SYSTEM = "culture_tourism_national"
PACKAGE_SCHEMAS = ("enforcement.case.v1", "enforcement.penalty_decision.v1")
"""What a package carries (README §3.1)."""
_DONE = ("SUCCESS", "PARTIAL")


def _day(date: dt.date) -> str:
    return date.strftime("%Y%m%d")


def _with_meta(raw: RawMessage, **meta: str) -> RawMessage:
    return RawMessage(raw.body, raw.headers, {**raw.meta, **meta}, raw.received_at)


def _retry(code: str, what: str) -> TransientError:
    return TransientError(
        f"{SYSTEM} {what}: code {code}", code=code, retry_after=RETRY_AFTER_S.get(code, 300)
    )


def build_day_package(ctx: PollContext, config: CultureTourismConfig, date: dt.date) -> Package:
    """The package of ``date`` from the canonical messages the bus received that day."""
    return _day_package(ctx, config, date)[0]


def _record_key(envelope: dict[str, Any]) -> tuple[str, str]:
    """The package record an envelope becomes: a case by case_code, a decision by number."""
    payload = envelope.get("payload") or {}
    if envelope.get("schema") == "enforcement.case.v1":
        return ("CASE", str(payload.get("case_code")))
    return ("DECISION", str(payload.get("decision_no")))


def _day_package(
    ctx: PollContext, config: CultureTourismConfig, date: dt.date
) -> tuple[Package, list[str | None]]:
    """The package of ``date`` and, per record, the message id of the envelope it carries
    (the latest version received that day, as the package takes it)."""
    envelopes = ctx.day_messages(PACKAGE_SCHEMAS, date)
    document = ctx.render_document("upload_daily_package", envelopes) if envelopes else b""
    package = build_package(document, config.org_code, _day(date))
    latest = {_record_key(e): str(e.get("message_id")) for e in envelopes}
    return package, [latest.get((kind, record_id)) for kind, record_id in package.records]


def _call_records(state: dict[str, Any], reasons: dict[tuple[str, str], str]) -> str:
    """``meta['call_records']`` of a query's answer: per package record, in package order."""
    ids = state.get("message_ids") or [None] * len(state["records"])
    calls = []
    for (kind, record_id), message_id in zip(state["records"], ids, strict=True):
        call = {"message_id": message_id}
        if (kind, record_id) in reasons:
            call["reason"] = reasons[(kind, record_id)]
        calls.append(call)
    return json.dumps(calls, ensure_ascii=False, separators=(",", ":"))


def _upload(ctx: PollContext, config: CultureTourismConfig, date: dt.date) -> dict[str, Any]:
    for attempt in (1, 2):
        package, message_ids = _day_package(ctx, config, date)
        raw = ctx.call("upload_daily_package", upload_request(config, package, ctx.now))
        ctx.emit("upload_daily_package_response", raw)
        answer = read_answer(raw, "uploadDailyPackage")
        if answer.code in ("0", "2003") and answer.text("batchId"):
            return {
                "stage": "uploaded",
                "batch_id": answer.text("batchId"),
                "sha256": package.sha256,
                "records": [list(r) for r in package.records],
                "message_ids": message_ids,
                "queried_at": None,
            }
        if answer.code == "2001" and attempt == 1:
            continue  # sha256 does not match: rebuild and resend once (README §5)
        if answer.code in ("4290", "5000"):
            raise _retry(answer.code, f"uploadDailyPackage {_day(date)}")
        raise PermanentError(
            f"{SYSTEM} uploadDailyPackage {_day(date)}: code {answer.code or '(none)'} "
            f"{answer.text('message')}",
            code=answer.code or "SOAP_ANSWER",
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _query(ctx: PollContext, config: CultureTourismConfig, key: str, state: dict[str, Any]) -> None:
    batch = str(state["batch_id"])
    last = state.get("queried_at")
    if last:
        waited = (ctx.now - dt.datetime.fromisoformat(last)).total_seconds()
        if waited < config.query_interval_s:
            raise TransientError(
                f"{SYSTEM} queryBatchResult {batch}: asked {int(waited)} s ago",
                code="PROCESSING",
                retry_after=config.query_interval_s - waited,
            )
    raw = ctx.call("query_batch_result", query_batch_result_request(config, batch, ctx.now))
    records = [tuple(r) for r in state["records"]]
    try:
        reasons = record_reasons(read_answer(raw, "queryBatchResult"))
    except (PermanentError, TransientError):
        reasons = {}  # the answer's outcome says what went wrong; read again below
    meta = {
        "package_records": package_records_meta(records),
        "call_records": _call_records(state, reasons),
    }
    ctx.emit("query_batch_result", _with_meta(raw, **meta))
    answer = read_answer(raw, "queryBatchResult")
    if answer.code in ("4290", "5000"):
        raise _retry(answer.code, f"queryBatchResult {batch}")
    status = answer.text("status")
    if answer.code != "0" or status == "FAILED":
        ctx.remember(key, {**state, "stage": "failed", "status": status or answer.code})
        code = answer.code if answer.code != "0" else _package_error(answer.result)
        raise PermanentError(
            f"{SYSTEM} queryBatchResult {batch}: {status or 'code'} {code}", code=code
        )
    if status in _DONE:
        ctx.remember(
            key, {**state, "stage": "done", "status": status, "queried_at": ctx.now.isoformat()}
        )
        return
    ctx.remember(key, {**state, "queried_at": ctx.now.isoformat()})
    raise TransientError(
        f"{SYSTEM} queryBatchResult {batch}: {status or 'no status'}",
        code="PROCESSING",
        retry_after=config.query_interval_s,
    )


def _package_error(result: Any) -> str:
    for error in result.iterfind("errors/error"):
        if (error.findtext("recordType") or "").strip() == "PACKAGE":
            return (error.findtext("errorCode") or "").strip() or "FAILED"
    return "FAILED"


def run_daily_upload(ctx: PollContext, config: AdapterConfig, date: dt.date) -> None:
    """``BatchJob.run`` of ``daily_upload`` (see the module docstring)."""
    settings = as_config(config)
    key = f"upload:{_day(date)}"
    state = ctx.recall(key) or {}
    if state.get("stage") == "done":
        return
    if state.get("stage") != "uploaded":
        state = _upload(ctx, settings, date)
        ctx.remember(key, state)
    _query(ctx, settings, key, state)


def run_blacklist(ctx: PollContext, config: AdapterConfig, date: dt.date) -> None:
    """``BatchJob.run`` of ``blacklist`` (see the module docstring)."""
    settings = as_config(config)
    key = f"blacklist:{_day(date)}"
    if (ctx.recall(key) or {}).get("stage") == "done":
        return
    raw = ctx.call("download_blacklist", download_blacklist_request(settings, _day(date), ctx.now))
    answer = read_answer(raw, "downloadBlacklist")
    if answer.code in RETRY_AFTER_S:
        raise _retry(answer.code, f"downloadBlacklist {_day(date)}")
    if answer.code != "0":
        raise PermanentError(
            f"{SYSTEM} downloadBlacklist {_day(date)}: code {answer.code or '(none)'}",
            code=answer.code or "SOAP_ANSWER",
        )
    try:
        blacklist_document(raw, settings)
    except MessageRejected as exc:
        located = exc.located(system=SYSTEM, message="download_blacklist")
        ctx.reject("download_blacklist", raw, located)
        raise PermanentError(
            f"{SYSTEM} downloadBlacklist {_day(date)}: {located}", code=located.rule
        ) from None
    ctx.emit("download_blacklist", raw)
    ctx.remember(key, {"stage": "done", "count": answer.text("count"), "at": ctx.now.isoformat()})


UPLOAD_JOB = BatchJob(
    name="daily_upload",
    schedule="30 1 * * *",
    run=run_daily_upload,
    summary="Upload the package of WL cases and decisions of day D, then poll its batch result.",
    archives=PACKAGE_SCHEMAS,
)
"""01:30 on D+1 (Asia/Shanghai); re-run until the result is in (``TransientError`` says when)."""

BLACKLIST_JOB = BatchJob(
    name="blacklist",
    schedule="30 6 * * *",
    run=run_blacklist,
    summary="Download the national blacklist changes of day D and map each entry.",
)
"""06:30 on D+1 (Asia/Shanghai): the ministry has the file from 06:00 (earlier: ``3001``)."""
