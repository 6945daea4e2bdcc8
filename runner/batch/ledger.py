"""The durable run ledger: every attempt of a batch job for a data date, and the atomic claim.

A run is claimed before it starts. The claim is one serialised write transaction (SQLite's
``BEGIN IMMEDIATE``; an advisory lock on PostgreSQL), so however many processes ask at once
for the same (job, date), at most one gets it:

- a date that already succeeded is not run again unless ``force``;
- a date with a live run (``queued`` or ``running``, heard from within the lease) is not run
  a second time, forced or not; a run not heard from for longer is marked ``failed``
  (abandoned: its process died) and no longer blocks;
- a scheduled claim names its fire time: each fire time gets ``1 + retries`` attempts at most,
  ``retry_delay`` apart.

Example::

    ledger = RunLedger(db)
    claim = ledger.claim("market_reg.nightly_import", dt.date(2025, 5, 6), trigger="manual")
    if isinstance(claim, BatchRun):
        ledger.start(claim.id)
        ...
        ledger.finish(claim.id, "success", emitted=2400)
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, func, select, update

from runner.batch._tables import batch_runs, ensure_tables
from runner.logs import mask_personal_data
from runner.stamp import now as wall_clock
from runner.stores.db import Database

__all__ = [
    "ACTIVE",
    "BatchRun",
    "Refused",
    "RunLedger",
    "RunState",
    "Trigger",
    "default_owner",
    "safe_error",
]

RunState = Literal["queued", "running", "success", "failed"]
Trigger = Literal["schedule", "manual", "airflow"]
ACTIVE: frozenset[str] = frozenset({"queued", "running"})
_ERROR_MAX = 1000


def default_owner() -> str:
    """``host:pid`` of this process, recorded on the runs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def safe_error(exc: BaseException) -> str:
    """The error text recorded for a failed run: type and message, cut to 1000 characters,
    with anything that looks like a resident ID number or a mobile phone masked."""
    text = f"{type(exc).__name__}: {exc}"[:_ERROR_MAX]
    return str(mask_personal_data(None, "", {"error": text})["error"])


@dataclass(frozen=True)
class BatchRun:
    """One attempt of ``job`` for the data date ``date``, as recorded."""

    id: int
    job: str
    date: dt.date
    attempt: int
    state: RunState
    trigger: Trigger
    scheduled_for: dt.datetime | None
    owner: str
    claimed_at: dt.datetime
    started_at: dt.datetime | None
    heartbeat_at: dt.datetime
    finished_at: dt.datetime | None
    emitted: int
    error: str | None


@dataclass(frozen=True)
class Refused:
    """Why a claim was refused, and the run that stands in its way (when there is one).

    ``succeeded``: the date is done (use force); ``active``: a run is live now; ``exhausted``:
    the fire time had all its attempts; ``retry_wait``: the next attempt is not due yet.
    """

    reason: Literal["succeeded", "active", "exhausted", "retry_wait"]
    run: BatchRun | None = None

    def describe(self) -> str:
        """One line for an operator."""
        run = self.run
        where = f" (attempt {run.attempt}, {run.owner})" if run else ""
        return {
            "succeeded": f"already succeeded{where}; --force runs it again",
            "active": f"a run is in progress{where}",
            "exhausted": f"every attempt of this scheduled run failed{where}",
            "retry_wait": f"waiting to retry{where}",
        }[self.reason]


def _row(row: Any) -> BatchRun:
    return BatchRun(
        id=row.id,
        job=row.job,
        date=row.run_date,
        attempt=row.attempt,
        state=row.state,
        trigger=row.trigger,
        scheduled_for=row.scheduled_for,
        owner=row.owner,
        claimed_at=row.claimed_at,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
        emitted=row.emitted,
        error=row.error,
    )


class RunLedger:
    """The ``ebus_batch_runs`` table of one store; ``clock`` is the time every record uses."""

    def __init__(
        self,
        db: Database,
        *,
        lease_s: float = 600.0,
        clock: Callable[[], dt.datetime] = wall_clock,
    ) -> None:
        ensure_tables(db)
        self._db = db
        self.lease = dt.timedelta(seconds=lease_s)
        self.clock = clock

    def claim(
        self,
        job: str,
        date: dt.date,
        *,
        trigger: Trigger,
        owner: str | None = None,
        force: bool = False,
        scheduled_for: dt.datetime | None = None,
        retries: int = 0,
        retry_delay_s: float = 0.0,
    ) -> BatchRun | Refused:
        """Record a new ``queued`` attempt of ``job`` for ``date``, or say why not (see the
        module docstring). Atomic across threads and processes sharing the store."""
        at = self.clock()
        with self._db.write() as conn:
            self._db.lock(conn, batch_runs)
            rows = self._attempts(conn, job, date)
            refusal = self._refusal(
                conn, rows, at, force, scheduled_for, retries, dt.timedelta(seconds=retry_delay_s)
            )
            if refusal is not None:
                return refusal
            values = {
                "job": job,
                "run_date": date,
                "attempt": max((r.attempt for r in rows), default=0) + 1,
                "state": "queued",
                "trigger": trigger,
                "scheduled_for": scheduled_for,
                "owner": owner or default_owner(),
                "claimed_at": at,
                "heartbeat_at": at,
                "emitted": 0,
            }
            row = conn.execute(batch_runs.insert().values(values).returning(*batch_runs.c)).one()
        return _row(row)

    def _attempts(self, conn: Connection, job: str, date: dt.date) -> list[BatchRun]:
        query = (
            select(batch_runs)
            .where(batch_runs.c.job == job, batch_runs.c.run_date == date)
            .order_by(batch_runs.c.attempt)
        )
        return [_row(r) for r in conn.execute(query)]

    def _refusal(
        self,
        conn: Connection,
        rows: list[BatchRun],
        at: dt.datetime,
        force: bool,
        scheduled_for: dt.datetime | None,
        retries: int,
        retry_delay: dt.timedelta,
    ) -> Refused | None:
        for run in rows:
            if run.state in ACTIVE and at - run.heartbeat_at > self.lease:
                self._abandon(conn, run, at)
            elif run.state in ACTIVE:
                return Refused("active", run)
        done = [r for r in rows if r.state == "success"]
        if done and not force:
            return Refused("succeeded", done[-1])
        if scheduled_for is None:
            return None
        same = [r for r in rows if r.scheduled_for == scheduled_for]
        if len(same) >= 1 + retries:
            return Refused("exhausted", same[-1])
        last = same[-1] if same else None
        if last is not None and last.finished_at and at < last.finished_at + retry_delay:
            return Refused("retry_wait", last)
        return None

    def _abandon(self, conn: Connection, run: BatchRun, at: dt.datetime) -> None:
        silent = int((at - run.heartbeat_at).total_seconds())
        conn.execute(
            update(batch_runs)
            .where(batch_runs.c.id == run.id)
            .values(
                state="failed",
                finished_at=at,
                error=f"abandoned: {run.owner} not heard from for {silent} s",
            )
        )

    def start(self, run_id: int) -> None:
        """Mark a claimed run ``running``."""
        at = self.clock()
        self._set(run_id, state="running", started_at=at, heartbeat_at=at)

    def heartbeat(self, run_id: int, emitted: int | None = None) -> None:
        """Say the run's process is alive (and how far it got), so it keeps its lease."""
        values: dict[str, Any] = {"heartbeat_at": self.clock()}
        if emitted is not None:
            values["emitted"] = emitted
        self._set(run_id, **values)

    def finish(
        self, run_id: int, state: Literal["success", "failed"], *, emitted: int, error: str | None
    ) -> None:
        """Record the outcome of a run (``error``: a text with no L3/L4 value, see
        ``safe_error``)."""
        at = self.clock()
        self._set(
            run_id, state=state, finished_at=at, heartbeat_at=at, emitted=emitted, error=error
        )

    def _set(self, run_id: int, **values: Any) -> None:
        with self._db.write() as conn:
            conn.execute(update(batch_runs).where(batch_runs.c.id == run_id).values(**values))

    def get(self, run_id: int) -> BatchRun:
        """The run ``run_id`` (``KeyError`` when there is none)."""
        with self._db.read() as conn:
            row = conn.execute(select(batch_runs).where(batch_runs.c.id == run_id)).first()
        if row is None:
            raise KeyError(f"no batch run {run_id}")
        return _row(row)

    def runs(
        self, job: str | None = None, date: dt.date | None = None, *, limit: int = 20
    ) -> list[BatchRun]:
        """The most recent runs, newest claim first, of one job (and date) or of all."""
        query = select(batch_runs).order_by(batch_runs.c.id.desc()).limit(limit)
        if job is not None:
            query = query.where(batch_runs.c.job == job)
        if date is not None:
            query = query.where(batch_runs.c.run_date == date)
        with self._db.read() as conn:
            return [_row(r) for r in conn.execute(query)]

    def count(self, job: str, date: dt.date, state: RunState | None = None) -> int:
        """How many attempts of ``job`` for ``date`` are recorded (in ``state``)."""
        query = select(func.count()).where(batch_runs.c.job == job, batch_runs.c.run_date == date)
        if state is not None:
            query = query.where(batch_runs.c.state == state)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())
