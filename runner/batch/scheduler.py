"""The in-process scheduler: runs the batch jobs on their cron schedules when no Airflow does.

``ebus run`` starts it as one thread of the runtime when the settings name no
``batch.airflow`` (and ``batch.schedule`` is not off) and a connected system declares jobs.

Each tick it looks, per job, at the latest fire time that has passed. If that fire time is not
yet settled it claims a run in the ledger for the fire time's data date and runs it (on a
thread of its own, so a long import does not hold up the others). Because the claim is
atomic, any number of ``ebus run`` processes may run a scheduler: a (job, date) runs once.

- **Catch-up:** after a restart, the latest fire time missed while the bus was down is run
  once; older missed dates are not (run them with ``ebus batch trigger NAME --date D``).
  Fire times before the scheduler first saw a job (recorded in the cursor
  ``batch-scheduler:<job id>``) are never caught up, so a new deployment does not start with
  yesterday's jobs.
- **Retries:** a failed scheduled run is tried again ``batch.retries`` times,
  ``batch.retry_delay`` apart.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping

from runner.batch._settings import BatchSettings
from runner.batch.jobs import Job, data_date, job_registry
from runner.batch.ledger import RunLedger
from runner.batch.runs import RunResult, run_job
from runner.engine.services import Services
from runner.logs import get_logger
from runner.stamp import now as wall_clock

__all__ = ["BatchScheduler", "batch_scheduler"]

log = get_logger("ebus.batch")

_SETTLED = frozenset({"succeeded", "exhausted"})


def batch_scheduler(services: Services) -> BatchScheduler | None:
    """The scheduler the runtime starts, or None: Airflow runs the jobs, in-process scheduling
    is off, or no connected system declares a job."""
    settings = services.settings.batch
    if settings.airflow is not None or not settings.schedule:
        return None
    jobs = job_registry(services.project.registry, services.settings.systems)
    return BatchScheduler(services, jobs, settings) if jobs else None


class BatchScheduler:
    """Runs due jobs; ``clock`` is injectable so tests decide what time it is."""

    def __init__(
        self,
        services: Services,
        jobs: Mapping[str, Job],
        settings: BatchSettings,
        *,
        clock: Callable[[], dt.datetime] = wall_clock,
        owner: str | None = None,
    ) -> None:
        self.services = services
        self.jobs = dict(jobs)
        self.settings = settings
        self.clock = clock
        self.owner = owner
        self.ledger = RunLedger(services.db, lease_s=settings.lease, clock=clock)
        self._settled: set[tuple[str, dt.datetime]] = set()
        self._running: dict[str, threading.Thread] = {}
        self._since: dict[str, dt.datetime] = {}

    def since(self, job: Job) -> dt.datetime:
        """When the scheduler first knew ``job`` (its first start with it, in any process)."""
        if job.id not in self._since:
            name = f"batch-scheduler:{job.id}"
            stored = self.services.cursors.get(name)
            if stored is None:
                stored = {"since": self.clock().isoformat()}
                self.services.cursors.set(name, stored)
            self._since[job.id] = dt.datetime.fromisoformat(str(stored["since"]))
        return self._since[job.id]

    def due(self) -> list[tuple[Job, dt.datetime]]:
        """Every job whose latest passed fire time is not settled, with that fire time."""
        at = self.clock()
        found = []
        for job in self.jobs.values():
            fired = job.last_fire(at)
            if fired >= self.since(job) and (job.id, fired) not in self._settled:
                found.append((job, fired))
        return found

    def run_pending(self, *, background: bool = False) -> list[RunResult]:
        """Claim and run every due job. In the foreground (tests, one-off use) it returns their
        results; in the background each run gets a thread and nothing is returned."""
        results = []
        for job, fired in self.due():
            if background:
                self._launch(job, fired)
            else:
                results.append(self._run(job, fired))
        return results

    def _run(self, job: Job, fired: dt.datetime) -> RunResult:
        if fired < self.clock() - dt.timedelta(seconds=2 * self.settings.tick):
            log.info("batch catch-up", job=job.id, fired_at=fired.isoformat())
        result = run_job(
            self.services,
            self.ledger,
            job,
            data_date(fired),
            trigger="schedule",
            scheduled_for=fired,
            retries=self.settings.retries,
            retry_delay_s=self.settings.retry_delay,
            owner=self.owner,
        )
        if result.state == "success" or (result.refused and result.refused.reason in _SETTLED):
            self._settled.add((job.id, fired))
        return result

    def _launch(self, job: Job, fired: dt.datetime) -> None:
        thread = self._running.get(job.id)
        if thread is not None and thread.is_alive():
            return

        def target() -> None:
            try:
                self._run(job, fired)
            except Exception as exc:  # the store is down: log it, the next tick tries again
                log.error("batch scheduling failed", job=job.id, error=type(exc).__name__)

        thread = threading.Thread(target=target, name=f"batch {job.id}", daemon=True)
        self._running[job.id] = thread
        thread.start()

    def wait_s(self) -> float:
        """Seconds until the next tick: the next fire time, or ``tick`` if sooner."""
        at = self.clock()
        next_fire = min((job.next_fire(at) for job in self.jobs.values()), default=None)
        if next_fire is None:
            return self.settings.tick
        return max(0.0, min(self.settings.tick, (next_fire - at).total_seconds() + 0.01))

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set (the runtime's scheduler thread)."""
        log.info("batch scheduler running", jobs=sorted(self.jobs))
        while not stop.is_set():
            self.run_pending(background=True)
            stop.wait(self.wait_s())

    def join(self, timeout_s: float = 10.0) -> None:
        """Wait for the runs started in the background."""
        for thread in list(self._running.values()):
            thread.join(timeout=timeout_s)
