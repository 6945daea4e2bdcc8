"""The batch jobs of the connected systems, their schedules and the dates they work on.

A job is ``BatchJob`` of an adapter's ``SPEC.batch_jobs``, known as ``<system>.<name>``
(``market_reg.nightly_import``). Only systems listed under ``systems:`` in the settings have
their jobs run.

Schedules are cron lines in Asia/Shanghai. A run fired at time T works on the **data date**
before T's day: the 01:30 upload of 7 May sends the package of 6 May, the 02:30 import of 7 May
imports the night export of 6 May (``data_date``). Jobs fired several times a day (a retry
window) work on the same date each time; the ledger runs a date once.

Example::

    jobs = job_registry(registry, connected=settings.systems)
    job = find_job(jobs, "nightly_import")          # or "market_reg.nightly_import"
    job.next_fire(now)                               # 2025-05-08 02:30:00+08:00
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from croniter import croniter

from runner.adapter_api import BatchJob
from runner.errors import ConfigError
from runner.registry import Registry
from schemas.timeutil import SHANGHAI

__all__ = ["TIMEZONE", "Job", "data_date", "find_job", "job_registry"]

TIMEZONE = "Asia/Shanghai"
"""The zone of every schedule and data date."""


def data_date(fired_at: dt.datetime) -> dt.date:
    """The data date of a run fired at ``fired_at``: the day before, in Asia/Shanghai."""
    if fired_at.tzinfo is None:
        raise ValueError("fired_at must be an aware datetime")
    return fired_at.astimezone(SHANGHAI).date() - dt.timedelta(days=1)


@dataclass(frozen=True)
class Job:
    """One batch job of one system."""

    system: str
    spec: BatchJob

    @property
    def id(self) -> str:
        """``<system>.<name>``."""
        return f"{self.system}.{self.spec.name}"

    @property
    def schedule(self) -> str:
        """The cron line (Asia/Shanghai)."""
        return self.spec.schedule

    def last_fire(self, at: dt.datetime) -> dt.datetime:
        """The latest fire time at or before ``at`` (Asia/Shanghai)."""
        start = at.astimezone(SHANGHAI).replace(microsecond=0) + dt.timedelta(seconds=1)
        fired: dt.datetime = croniter(self.schedule, start).get_prev(dt.datetime)
        return fired

    def next_fire(self, at: dt.datetime) -> dt.datetime:
        """The first fire time after ``at`` (Asia/Shanghai)."""
        fired: dt.datetime = croniter(self.schedule, at.astimezone(SHANGHAI)).get_next(dt.datetime)
        return fired

    def fire_for(self, date: dt.date) -> dt.datetime:
        """The first scheduled fire time that works on ``date`` (the day after it, or later
        when the schedule skips that day)."""
        next_day = dt.datetime.combine(date, dt.time(), SHANGHAI) + dt.timedelta(days=1)
        return self.next_fire(next_day - dt.timedelta(seconds=1))


def job_registry(registry: Registry, connected: Iterable[str]) -> dict[str, Job]:
    """The jobs of the connected systems by id; a bad cron line or a repeated name is a
    ``ConfigError`` naming the job."""
    jobs: dict[str, Job] = {}
    for system in sorted(set(connected)):
        if system not in registry:
            continue  # the settings' own check reports unknown systems
        for spec in registry.get(system).batch_jobs:
            job = Job(system, spec)
            if not croniter.is_valid(spec.schedule):
                raise ConfigError(f"batch job {job.id}: '{spec.schedule}' is not a cron line")
            if job.id in jobs:
                raise ConfigError(f"batch job {job.id} is declared twice")
            jobs[job.id] = job
    return jobs


def find_job(jobs: dict[str, Job], name: str) -> Job:
    """The job called ``name`` (``system.name``, or a bare name that only one system uses);
    ``ConfigError`` with a suggestion otherwise."""
    if name in jobs:
        return jobs[name]
    matches = [job for job in jobs.values() if job.spec.name == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(f"batch job '{name}' is ambiguous: {', '.join(j.id for j in matches)}")
    names = {job.spec.name: job.id for job in jobs.values()} | {job_id: job_id for job_id in jobs}
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f" (did you mean '{names[close[0]]}'?)" if close else ""
    known = ", ".join(sorted(jobs)) or "none: no connected system declares a batch job"
    raise ConfigError(f"unknown batch job '{name}'{hint}; known: {known}")
