"""Apache Airflow DAGs of the enforcement bus: one DAG per batch job of the connected systems.

Each DAG (``<dag_prefix><system>.<job>``, e.g. ``ebus_market_reg.nightly_import``) runs on the
job's cron schedule in Asia/Shanghai (``CronTriggerTimetable``), one run at a time, with the
retries of ``batch.retries`` / ``batch.retry_delay``, and has one task, ``run``: a
``BashOperator`` calling ``ebus batch run <job> --trigger airflow`` for the run's date (see
``runner.batch.dagspec``). The bus records the run in its ledger, so a date that already
succeeded is not run twice and ``ebus batch status --local`` shows what each run emitted.

Install: ``ebus`` on the workers' PATH (or ``EBUS_BIN``), ``EBUS_CONFIG`` naming the bus's
settings, and this file in Airflow's ``dags_folder``. Without Airflow installed the module
still imports (``DAGS`` is then empty), so the bus's test suite can load it.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from runner.batch.dagspec import DagSpec, load_dag_specs

__all__ = ["DAGS", "SPECS", "build_dags"]


def _first(*names: str) -> ModuleType | None:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def build_dags(specs: Iterable[DagSpec]) -> dict[str, Any]:
    """The Airflow DAG of each spec by DAG id; empty when Airflow is not installed."""
    sdk = _first("airflow.sdk")
    bash = _first("airflow.providers.standard.operators.bash", "airflow.operators.bash")
    trigger = _first("airflow.timetables.trigger")
    pendulum = _first("pendulum")
    if sdk is None or bash is None or trigger is None or pendulum is None:
        return {}
    dags: dict[str, Any] = {}
    for spec in specs:
        dag = sdk.DAG(
            dag_id=spec.dag_id,
            description=spec.description,
            schedule=trigger.CronTriggerTimetable(spec.schedule, timezone=spec.timezone),
            start_date=pendulum.datetime(
                spec.start_date.year, spec.start_date.month, spec.start_date.day, tz=spec.timezone
            ),
            catchup=spec.catchup,
            max_active_runs=spec.max_active_runs,
            default_args={
                "retries": spec.retries,
                "retry_delay": dt.timedelta(seconds=spec.retry_delay_s),
            },
            tags=["ebus", spec.system],
            doc_md=f"`{spec.job}`: {spec.description}",
        )
        bash.BashOperator(
            task_id="run",
            dag=dag,
            bash_command=spec.bash_command,
            env=dict(spec.env),
            append_env=True,
        )
        dags[spec.dag_id] = dag
    return dags


SPECS = load_dag_specs()
DAGS = build_dags(SPECS)
globals().update(DAGS)  # Airflow collects the DAG objects found at module level
