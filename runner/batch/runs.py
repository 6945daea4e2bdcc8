"""Running one batch job for one data date in this process, recorded in the ledger.

This is what ``ebus batch run`` does (and so what the Airflow DAGs execute), what
``ebus batch trigger`` does without Airflow, and what the in-process scheduler does when a job
is due. The job gets the same context as a poll cycle (``BusPollContext``): calls through the
system's connection, ``emit`` to the bus (stored before it returns), durable facts; its
``cursor``/``commit`` are its own (``batch:<job id>``), apart from the system's poller. An
answer the job emits (a message type that maps to a delivery outcome: an upload's receipt, a
batch result) is settled as a delivery outcome instead (``runner.batch.outcomes``): audited,
refused records dead-lettered, accepted ones counted in the run's log line.

Example::

    result = run_job(services, ledger, job, dt.date(2025, 5, 6), trigger="manual")
    print(result.state, result.emitted)
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Literal

from runner.adapter_api import RawMessage
from runner.batch.jobs import Job
from runner.batch.ledger import BatchRun, Refused, RunLedger, Trigger, safe_error
from runner.batch.outcomes import is_answer, settle_answer
from runner.bus.topology import Topology
from runner.engine.plan import inbound_queue_spec
from runner.engine.polling import BusPollContext
from runner.engine.services import Services
from runner.logs import get_logger
from runner.stamp import now

__all__ = ["BatchContext", "RunResult", "execute_run", "run_job"]

log = get_logger("ebus.batch")


class BatchContext(BusPollContext):
    """The context of one batch run: a ``BusPollContext`` with the job's own cursor, which
    declares each inbound queue before its first ``emit`` (a run in a fresh process, before any
    ``ebus run`` declared the topology, must not publish into nowhere), and reads the day
    archive of the schemas the job declares (``BatchJob.archives``). An answer is settled as
    a delivery outcome of the run's ``date`` (``runner.batch.outcomes``); ``accepted``,
    ``rejected`` and ``retry`` add up its records."""

    def __init__(self, services: Services, job: Job, date: dt.date | None = None) -> None:
        super().__init__(services, job.system, job.spec.archives)
        self.job = job
        self.date = date
        self._cursor_name = f"batch:{job.id}"
        self._declared: set[str] = set()
        self.accepted = 0
        self.rejected = 0
        self.retry = 0

    def emit(self, message_id: str, raw: RawMessage) -> None:
        """Publish one wire message to ``ebus.in.<system>.<message>`` (confirmed), or settle
        an answer as a delivery outcome."""
        if is_answer(self.services, self.system, message_id):
            stamped = raw if raw.received_at else RawMessage(raw.body, raw.headers, raw.meta, now())
            settled = settle_answer(
                self.services,
                self.job,
                self.date,
                message_id,
                stamped,
                (self.recall, self.remember),
            )
            self.accepted += settled.accepted
            self.rejected += settled.rejected
            self.retry += settled.retry
            return
        if message_id not in self._declared:
            queue = inbound_queue_spec(self.services.project, self.system, message_id)
            self.services.bus.declare(Topology(queues=(queue,)))
            self._declared.add(message_id)
        super().emit(message_id, raw)


@dataclass(frozen=True)
class RunResult:
    """What became of one request to run a job for a date.

    ``skipped``: the claim was refused (``refused`` says why: done already, running elsewhere).
    """

    job: str
    date: dt.date
    state: Literal["success", "failed", "skipped"]
    run: BatchRun | None = None
    refused: Refused | None = None
    emitted: int = 0
    error: str | None = None


def run_job(
    services: Services,
    ledger: RunLedger,
    job: Job,
    date: dt.date,
    *,
    trigger: Trigger,
    force: bool = False,
    scheduled_for: dt.datetime | None = None,
    retries: int = 0,
    retry_delay_s: float = 0.0,
    owner: str | None = None,
) -> RunResult:
    """Claim a run of ``job`` for ``date`` and, when the claim holds, run it to the end."""
    claim = ledger.claim(
        job.id,
        date,
        trigger=trigger,
        owner=owner,
        force=force,
        scheduled_for=scheduled_for,
        retries=retries,
        retry_delay_s=retry_delay_s,
    )
    if isinstance(claim, Refused):
        log.info("batch run skipped", job=job.id, date=date.isoformat(), reason=claim.reason)
        return RunResult(job.id, date, "skipped", run=claim.run, refused=claim)
    return execute_run(services, ledger, job, claim)


def execute_run(services: Services, ledger: RunLedger, job: Job, run: BatchRun) -> RunResult:
    """Run a claimed ``run`` of ``job``: mark it running, keep its lease, record the outcome.

    A failure of the job (any exception) is recorded and returned, never raised; an interrupt
    (``KeyboardInterrupt``, ``SystemExit``) is recorded as failed and raised again.
    """
    ledger.start(run.id)
    context = BatchContext(services, job, run.date)
    beat = _Heartbeat(ledger, run.id, context, ledger.lease.total_seconds() / 4)
    fields = {"job": job.id, "date": run.date.isoformat(), "attempt": run.attempt}
    log.info("batch run started", trigger=run.trigger, **fields)
    try:
        job.spec.run(context, services.config(job.system), run.date)
    except Exception as exc:
        error = safe_error(exc)
        beat.stop()
        ledger.finish(run.id, "failed", emitted=context.emitted, error=error)
        log.error("batch run failed", emitted=context.emitted, error=error, **fields)
        return RunResult(
            job.id, run.date, "failed", ledger.get(run.id), None, context.emitted, error
        )
    except BaseException as exc:
        beat.stop()
        reason = f"interrupted ({type(exc).__name__})"
        ledger.finish(run.id, "failed", emitted=context.emitted, error=reason)
        raise
    beat.stop()
    ledger.finish(run.id, "success", emitted=context.emitted, error=None)
    log.info(
        "batch run succeeded",
        emitted=context.emitted,
        accepted=context.accepted,
        rejected=context.rejected,
        **fields,
    )
    return RunResult(job.id, run.date, "success", ledger.get(run.id), None, context.emitted)


class _Heartbeat:
    """Reports a run alive (with its emitted count) every ``interval_s`` until stopped."""

    def __init__(
        self, ledger: RunLedger, run_id: int, context: BatchContext, interval_s: float
    ) -> None:
        self._stop = threading.Event()
        self._ledger = ledger
        self._run_id = run_id
        self._context = context
        self._interval = max(interval_s, 0.05)
        self._thread = threading.Thread(target=self._beat, name=f"batch heartbeat {run_id}")
        self._thread.daemon = True
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._ledger.heartbeat(self._run_id, self._context.emitted)
            except Exception as exc:  # the store is down: the run goes on, the lease may lapse
                log.warning("batch heartbeat failed", run=self._run_id, error=type(exc).__name__)

    def stop(self) -> None:
        """Stop reporting and wait for the reporting thread."""
        self._stop.set()
        self._thread.join(timeout=10)
