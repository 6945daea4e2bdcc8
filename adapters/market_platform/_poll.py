"""The market_platform poller: one cycle collects the ready task files of ``inbox/`` (§3.1, §3.2).

For each ``TASK_<yyyyMMdd>_<seq>.csv`` whose ``.ok`` marker exists (oldest name first)::

    registry = ctx.recall("file:<name>")          the durable processed-name registry
    name known, state "emitted", same MD5   →  only archive (the last cycle died before it)
    name known otherwise                    →  error/ "duplicate file name"   (quirk Q9)
    marker name / MD5 / row count differ    →  error/ "md5 mismatch" …        (no message)
    header not recognised, undecodable      →  error/ "unknown header" …
    else  ctx.emit("task", file)  →  remember {state: emitted}  →  archive/<yyyyMMdd>/
          →  remember {state: archived}

A refused file is also handed to ``ctx.reject`` (dead-lettered with its rule). The file is
emitted as ONE raw message (``meta['file']`` = its name); its mapping yields one envelope per
row and the runtime dead-letters a bad row on its own. A zero-byte marker (platform versions
before 2024-07, quirk Q6) is accepted without checks. A crash between ``emit`` and
``remember`` emits the file again next cycle: its rows carry the same ``检查记录编号`` and are
recognised downstream as duplicates.

Drop failures raise ``TransientError``: the runtime retries at the next poll.
"""

from __future__ import annotations

import re
from contextlib import closing
from typing import Any

from adapters._transports.filedrop import FileDrop, Marker, md5_hex
from adapters.market_platform._config import MarketPlatformConfig, as_config
from adapters.market_platform._tasks import read_task_file
from runner.adapter_api import AdapterConfig, MessageRejected, PollContext, RawMessage

__all__ = ["SYSTEM", "TASK_FILE", "TASK_MESSAGE", "collect", "open_drop", "poll", "registry_key"]

SYSTEM = "market_platform"
TASK_MESSAGE = "task"
TASK_FILE = re.compile(r"^TASK_(\d{8})_\d{3}\.csv$")
"""README §3.1: anything else in ``inbox/`` is ignored."""
_REASONS = {
    "md5_mismatch": "md5 mismatch",
    "count_mismatch": "count mismatch",
    "marker_name": "marker name mismatch",
    "bad_marker": "bad marker",
    "unknown_header": "unknown header",
    "undecodable": "undecodable",
    "malformed_csv": "malformed csv",
    "too_large": "too large",
    "duplicate_file": "duplicate file name",
}
"""Rule → the reason keyword written first on the ``.err`` line (README §6 wording)."""


def registry_key(name: str) -> str:
    """The durable fact key of a task file name."""
    return f"file:{name}"


def open_drop(config: MarketPlatformConfig) -> FileDrop:
    """The platform's drop directory."""
    return FileDrop.from_config(SYSTEM, config)


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: collect every ready task file once (see the module docstring)."""
    settings = as_config(config)
    with closing(open_drop(settings)) as drop:
        for name in drop.ready(settings.inbox, TASK_FILE):
            collect(ctx, drop, settings.inbox, name)


def _day(name: str) -> str:
    match = TASK_FILE.fullmatch(name)
    assert match is not None  # only listed names come here
    return match.group(1)


def _refuse(
    ctx: PollContext, drop: FileDrop, folder: str, raw: RawMessage, error: MessageRejected
) -> None:
    """Move the file to ``error/`` with its reason line, then dead-letter it."""
    name = raw.meta["file"]
    keyword = _REASONS.get(error.rule, error.rule)
    line = error.reason if error.reason.startswith(keyword) else f"{keyword}: {error.reason}"
    drop.refuse(folder, name, line)
    error.reason = f"file {name}: {line}"
    ctx.reject(TASK_MESSAGE, raw, error.located(system=SYSTEM, message=TASK_MESSAGE))


def _check(name: str, marker_bytes: bytes, data: bytes) -> int:
    """The number of data rows of a file that matches its marker; else ``MessageRejected``."""
    marker = Marker.parse(marker_bytes)
    marker.check(name, data)  # name and MD5 first: a count needs the file decoded
    rows = len(read_task_file(data).rows)
    marker.check(name, data, rows)
    return rows


def collect(ctx: PollContext, drop: FileDrop, folder: str, name: str) -> str:
    """Collect one ready task file; returns what became of it: ``emitted``, ``archived``
    (already emitted by an interrupted cycle) or ``refused``."""
    try:
        data = drop.read(folder, name)
    except MessageRejected as exc:
        _refuse(ctx, drop, folder, RawMessage(b"", meta={"file": name}), exc)
        return "refused"
    marker_bytes = drop.read_marker(folder, name)
    digest = md5_hex(data)
    raw = RawMessage(data, meta={"file": name, "md5": digest}, received_at=ctx.now)
    key = registry_key(name)
    known: dict[str, Any] | None = ctx.recall(key)
    if known is not None:
        if known.get("state") == "emitted" and known.get("md5") == digest:
            _archive(ctx, drop, folder, name, known)
            return "archived"
        duplicate = MessageRejected(
            "duplicate file name: already processed", field="file", rule="duplicate_file"
        )
        _refuse(ctx, drop, folder, raw, duplicate)
        return "refused"
    try:
        rows = _check(name, marker_bytes, data)
    except MessageRejected as exc:
        _refuse(ctx, drop, folder, raw, exc)
        return "refused"
    ctx.emit(TASK_MESSAGE, raw)
    fact = {"md5": digest, "rows": rows, "state": "emitted", "at": ctx.now.isoformat()}
    ctx.remember(key, fact)
    _archive(ctx, drop, folder, name, fact)
    return "emitted"


def _archive(
    ctx: PollContext, drop: FileDrop, folder: str, name: str, fact: dict[str, Any]
) -> None:
    drop.archive(folder, name, _day(name))
    ctx.remember(registry_key(name), {**fact, "state": "archived"})
