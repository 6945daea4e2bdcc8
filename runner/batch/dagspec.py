"""What the shipped Airflow DAGs are made of, in plain Python (testable without Airflow).

``runner/batch/dags/ebus_batch.py`` turns each ``DagSpec`` into one Airflow DAG with one
``BashOperator`` task that runs ``ebus batch run <job> --trigger airflow`` for the run's date.
The date comes from the run's ``conf["date"]`` (``ebus batch trigger``), else from the run's
``run_after`` (a scheduled run: the day before it, see ``runner.batch.jobs.data_date``). Both
reach the command through environment variables, so no text from a ``conf`` is ever pasted
into the shell line.

The DAG file reads, in Airflow's environment:

- ``EBUS_CONFIG``: the bus's settings file (connected systems, ``batch:``); unset: defaults,
  which connect no system and so make no DAG;
- ``EBUS_BIN``: the ``ebus`` executable (default ``ebus`` on the PATH).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.batch.jobs import TIMEZONE, job_registry
from runner.registry import Registry, default_registry
from runner.settings import Settings, load_settings

__all__ = ["ENV_TEMPLATES", "DagSpec", "dag_specs", "load_dag_specs"]

ENV_TEMPLATES: Mapping[str, str] = {
    "EBUS_BATCH_DATE": "{{ (dag_run.conf or {}).get('date') or '' }}",
    "EBUS_BATCH_RUN_AFTER": "{{ dag_run.run_after.isoformat() }}",
    "EBUS_BATCH_FORCE": "{{ '--force' if (dag_run.conf or {}).get('force') else '' }}",
}
"""The task's environment, as Airflow templates (rendered per run)."""


@dataclass(frozen=True)
class DagSpec:
    """One DAG: a job on its schedule, with its retries and its one command."""

    dag_id: str
    job: str
    system: str
    description: str
    schedule: str
    timezone: str
    start_date: dt.date
    catchup: bool
    retries: int
    retry_delay_s: float
    bash_command: str
    env: Mapping[str, str] = field(default_factory=lambda: dict(ENV_TEMPLATES))
    max_active_runs: int = 1


def dag_specs(
    settings: Settings,
    registry: Registry,
    *,
    ebus: str = "ebus",
    config_path: str | None = None,
) -> list[DagSpec]:
    """One spec per batch job of the connected systems, sorted by DAG id."""
    batch = settings.batch
    prefix = batch.airflow.dag_prefix if batch.airflow else "ebus_"
    start = batch.airflow.start_date if batch.airflow else dt.date(2025, 1, 1)
    catchup = batch.airflow.catchup if batch.airflow else False
    config = f" --config {shlex.quote(config_path)}" if config_path else ""
    specs = []
    for job in job_registry(registry, settings.systems).values():
        command = (
            f"{shlex.quote(ebus)} batch run {shlex.quote(job.id)}{config} --trigger airflow"
            ' --date "$EBUS_BATCH_DATE" --run-after "$EBUS_BATCH_RUN_AFTER" $EBUS_BATCH_FORCE'
        )
        specs.append(
            DagSpec(
                dag_id=f"{prefix}{job.id}",
                job=job.id,
                system=job.system,
                description=job.spec.summary,
                schedule=job.schedule,
                timezone=TIMEZONE,
                start_date=start,
                catchup=catchup,
                retries=batch.retries,
                retry_delay_s=batch.retry_delay,
                bash_command=command,
            )
        )
    return sorted(specs, key=lambda s: s.dag_id)


def load_dag_specs(
    environ: Mapping[str, str] | None = None, registry: Registry | None = None
) -> list[DagSpec]:
    """The specs for the settings named by ``EBUS_CONFIG`` and the installed adapters."""
    env = os.environ if environ is None else environ
    path = env.get("EBUS_CONFIG") or None
    settings = load_settings(Path(path) if path else None)
    return dag_specs(
        settings,
        registry or default_registry(),
        ebus=env.get("EBUS_BIN") or "ebus",
        config_path=str(Path(path).resolve()) if path else None,
    )
