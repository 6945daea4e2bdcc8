"""The nightly import (README §2, layout.md §2 and §6): verify a night, emit its files, report.

For every night in ``inbox/market_reg/`` whose manifest is there (``manifest_<yyyyMMdd>.json``
is uploaded last; ``.part`` files and nights without a manifest are ignored), in
``export_date`` order::

    manifest not JSON, or sign wrong          →  refuse the night: all its files to refused/,
                                                 report "manifest": "refused", dead letter
    batch ≤ the batch already imported        →  refused/ (rule stale_batch), report kept
    a listed file missing                     →  wait until manifest_deadline (06:00 the next
                                                 day), then refuse that file only
    per file, cases first: size, sha256, BOM, lines (read once, checked, the same bytes emitted)
        mismatch → refuse that file (refused/, dead letter), the other file still goes on
        ok       → ctx.emit(<kind>, file bytes, meta: file, export_date, batch, manifest_json)
    then  processed/ (or refused/ with the manifest when a file was refused)
          → outbox/market_reg/report_<yyyyMMdd>.json → remember {batch, state: done}

Progress is remembered per night (``night:<yyyyMMdd>`` → batch, state, files done), so a run
that dies half-way resumes where it stopped; a file emitted twice by a crash between ``emit``
and ``remember`` carries the same ``jlid`` values and is recognised downstream as a duplicate.
The runtime maps each emitted file (``SPEC.verify`` checks it against the manifest once more,
``SPEC.prepare`` reads its lines) and dead-letters a bad record on its own.

``nightly_import`` is the ``BatchJob`` (date = the data date): it imports every complete night
up to that date and raises ``TransientError`` while the date's own night is not complete, so
the scheduler tries again. ``poll`` (only with ``watch: true``) imports whatever is complete.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from adapters._transports.filedrop import FileDrop
from adapters.market_reg._config import MarketRegConfig, as_config
from adapters.market_reg._manifest import (
    KINDS,
    Manifest,
    check_file,
    check_signature,
    parse_manifest,
)
from adapters.market_reg._records import read_lines
from runner.adapter_api import (
    AdapterConfig,
    MessageRejected,
    PollContext,
    RawMessage,
    TransientError,
)
from schemas.timeutil import SHANGHAI

__all__ = [
    "MANIFEST_FILE",
    "SYSTEM",
    "FileResult",
    "NightResult",
    "import_nights",
    "night_key",
    "nightly_import",
    "poll",
]

SYSTEM = "market_reg"
MANIFEST_FILE = re.compile(r"^manifest_(\d{8})\.json$")


def night_key(day: str) -> str:
    """The durable fact key of a night (``yyyyMMdd``)."""
    return f"night:{day}"


@dataclass
class FileResult:
    """What became of one data file of a night (one ``files[]`` entry of the report)."""

    file: str
    status: str
    reason: str | None = None
    records: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_report(self) -> dict[str, Any]:
        """The report entry (layout.md §6): codes, counts, line numbers and jlid only."""
        entry: dict[str, Any] = {"file": self.file, "status": self.status}
        if self.reason:
            entry["reason"] = self.reason
        entry.update(
            records=self.records,
            imported=self.imported,
            duplicates=self.duplicates,
            rejected=self.rejected,
        )
        return entry


@dataclass
class NightResult:
    """What one run did with one night: ``imported``, ``refused``, ``stale`` or ``waiting``."""

    day: str
    outcome: str
    batch: int | None = None
    files: list[FileResult] = field(default_factory=list)


def _deadline(day: str, settings: MarketRegConfig) -> dt.datetime:
    date = dt.datetime.strptime(day, "%Y%m%d").date() + dt.timedelta(days=1)
    return dt.datetime.combine(date, settings.manifest_deadline, tzinfo=SHANGHAI)


def _located(error: MessageRejected, message: str, name: str) -> MessageRejected:
    error.reason = f"file {name}: {error.reason}"
    return error.located(system=SYSTEM, message=message)


class _Night:
    """One night being imported: its drop, manifest and remembered progress."""

    def __init__(
        self, ctx: PollContext, drop: FileDrop, settings: MarketRegConfig, day: str
    ) -> None:
        self.ctx, self.drop, self.settings, self.day = ctx, drop, settings, day
        self.manifest_name = f"manifest_{day}.json"
        self.inbox = settings.inbox

    def _move_all(self, folder: str, names: list[str]) -> None:
        for name in names:
            self.drop.move(self.inbox, name, folder)

    def _data_names(self) -> list[str]:
        return [f"{kind}_{self.day}.jsonl" for kind in KINDS]

    def _report(
        self, manifest: str, batch: int | None, files: list[FileResult], reason: str | None = None
    ) -> None:
        report: dict[str, Any] = {
            "export_date": self.day,
            "batch": batch,
            "processed_at": self.ctx.now.astimezone(SHANGHAI).isoformat(timespec="seconds"),
            "manifest": manifest,
        }
        if reason:
            report["reason"] = reason
        report["files"] = [f.as_report() for f in files]
        data = json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
        self.drop.put(self.settings.outbox, f"report_{self.day}.json", data)

    def run(self, present: set[str]) -> NightResult:
        """Import this night once (see the module docstring)."""
        raw = b""
        try:
            raw = self.drop.read(self.inbox, self.manifest_name)
            manifest = parse_manifest(raw)
            check_signature(
                manifest, self.settings.export_secret.get_secret_value(), self.settings.system_code
            )
            if manifest.export_date != self.day:
                raise MessageRejected(
                    "export_date differs from the manifest's file name",
                    field="manifest.export_date",
                    rule="manifest_format",
                )
        except MessageRejected as exc:
            return self._refuse_night(raw, exc)
        known = self.ctx.recall(night_key(self.day)) or {}
        done_batch = int(known.get("batch", 0))
        if manifest.batch < done_batch or (
            manifest.batch == done_batch and known.get("state") == "done"
        ):
            return self._stale(raw, manifest, done_batch)
        progress = known if manifest.batch == done_batch else {}
        missing = [e.file for e in manifest.files if e.kind and e.file not in present]
        if missing and self.ctx.now < _deadline(self.day, self.settings):
            return NightResult(self.day, "waiting", manifest.batch)
        return self._import(raw, manifest, progress, set(missing))

    def _refuse_night(self, raw: bytes, error: MessageRejected) -> NightResult:
        reason = error.reason
        self.ctx.reject(
            "manifest",
            RawMessage(raw, meta={"file": self.manifest_name}, received_at=self.ctx.now),
            _located(error, "manifest", self.manifest_name),
        )
        files = [
            FileResult(name, "refused", f"manifest refused: {reason}")
            for name in self._data_names()
        ]
        self._move_all(self.settings.refused, [*self._data_names(), self.manifest_name])
        self._report("refused", None, files, reason)
        return NightResult(self.day, "refused", None, files)

    def _stale(self, raw: bytes, manifest: Manifest, done_batch: int) -> NightResult:
        error = MessageRejected(
            f"batch {manifest.batch} is not higher than the batch {done_batch} already imported",
            field="manifest.batch",
            rule="stale_batch",
        )
        self.ctx.reject(
            "manifest",
            RawMessage(raw, meta={"file": self.manifest_name}, received_at=self.ctx.now),
            _located(error, "manifest", self.manifest_name),
        )
        self._move_all(self.settings.refused, [*self._data_names(), self.manifest_name])
        return NightResult(self.day, "stale", manifest.batch)

    def _import(
        self, raw: bytes, manifest: Manifest, progress: dict[str, Any], missing: set[str]
    ) -> NightResult:
        files_done: dict[str, Any] = dict(progress.get("files") or {})
        state = {"batch": manifest.batch, "state": "importing", "files": files_done}
        results: list[FileResult] = []
        for kind in KINDS:
            entry = manifest.entry(kind)
            assert entry is not None  # check_signature made sure
            if entry.file in files_done:
                results.append(FileResult(**files_done[entry.file]))
                continue
            result = self._import_file(kind, raw, manifest, entry.file, entry.file in missing)
            files_done[entry.file] = result.__dict__
            self.ctx.remember(night_key(self.day), state)
            results.append(result)
        refused = any(r.status == "refused" for r in results)
        for result in results:
            target = (
                self.settings.refused if result.status == "refused" else self.settings.processed
            )
            self.drop.move(self.inbox, result.file, target)
        self.drop.move(
            self.inbox,
            self.manifest_name,
            self.settings.refused if refused else self.settings.processed,
        )
        self._report("ok", manifest.batch, results)
        self.ctx.remember(night_key(self.day), {**state, "state": "done"})
        return NightResult(self.day, "imported", manifest.batch, results)

    def _import_file(
        self, kind: str, manifest_raw: bytes, manifest: Manifest, name: str, missing: bool
    ) -> FileResult:
        meta = {
            "file": name,
            "export_date": manifest.export_date,
            "batch": str(manifest.batch),
            "manifest_json": manifest_raw.decode("utf-8"),
        }
        data = b""
        try:
            if missing:
                raise MessageRejected(
                    "listed in the manifest but missing on the drop",
                    field="file",
                    rule="file_missing",
                )
            data = self.drop.read(self.inbox, name)
            entry = manifest.entry(kind)
            assert entry is not None
            check_file(entry, data)
        except MessageRejected as exc:
            reason = exc.reason
            self.ctx.reject(
                kind,
                RawMessage(data, meta=meta, received_at=self.ctx.now),
                _located(exc, kind, name),
            )
            return FileResult(name, "refused", reason)
        result = _count(name, data, self.settings.max_line_bytes)
        self.ctx.emit(kind, RawMessage(data, meta=meta, received_at=self.ctx.now))
        return result


def _count(name: str, data: bytes, max_line_bytes: int) -> FileResult:
    """The report counts of a verified file: records, repeats, lines unreadable as records.

    Field-level rejections happen when the runtime maps the file: they are in the dead-letter
    store (with their line), not in this count.
    """
    result = FileResult(name, "imported")
    for line in read_lines(data, max_line_bytes):
        if line.skip and not line.data:
            continue  # blank
        result.records += 1
        if line.problem is not None:
            result.rejected.append(
                {"line": line.line, "jlid": None, "reason": line.problem["reason"]}
            )
        elif line.skip:
            result.duplicates += 1
    result.imported = result.records - result.duplicates - len(result.rejected)
    return result


def import_nights(
    ctx: PollContext, config: AdapterConfig, until: dt.date | None = None
) -> list[NightResult]:
    """Import every complete night in the inbox (up to ``until``), oldest first."""
    settings = as_config(config)
    last = until.strftime("%Y%m%d") if until else None
    results = []
    with closing(FileDrop.from_config(SYSTEM, settings)) as drop:
        present = set(drop.names(settings.inbox))
        days = sorted(m.group(1) for n in present if (m := MANIFEST_FILE.fullmatch(n)))
        for day in days:
            if last is not None and day > last:
                continue
            results.append(_Night(ctx, drop, settings, day).run(present))
    return results


def nightly_import(ctx: PollContext, config: AdapterConfig, date: dt.date) -> None:
    """``BatchJob.run``: import the nights up to ``date`` (the data date); ``TransientError``
    while that night is not complete (no manifest yet, or a listed file still missing before
    the deadline), so that the scheduler runs the job again."""
    settings = as_config(config)
    day = date.strftime("%Y%m%d")
    results = import_nights(ctx, settings, until=date)
    waiting = [r.day for r in results if r.outcome == "waiting"]
    if waiting:
        raise TransientError(
            f"{SYSTEM}: night {', '.join(waiting)}: a listed file is not on the drop yet",
            code="FILE_MISSING",
        )
    seen = any(r.day == day for r in results)
    known = ctx.recall(night_key(day)) or {}
    if not seen and known.get("state") != "done":
        late = ctx.now >= _deadline(day, settings)
        raise TransientError(
            f"{SYSTEM}: no manifest_{day}.json on the drop"
            + (
                f" after {settings.manifest_deadline:%H:%M}: alert the operators"
                if late
                else " yet"
            ),
            code="MANIFEST_LATE" if late else "MANIFEST_PENDING",
        )


def poll(ctx: PollContext, config: AdapterConfig) -> None:
    """``AdapterSpec.poll``: with ``watch: true``, import every complete night present."""
    if as_config(config).watch:
        import_nights(ctx, config)
