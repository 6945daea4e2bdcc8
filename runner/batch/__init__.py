"""Scheduled batch work: the adapters' ``SPEC.batch_jobs``, run by Airflow or by the bus itself.

The pieces, each in its own module:

- ``jobs``: the job registry (``<system>.<name>`` of the connected systems), schedules, the
  data date a run works on;
- ``ledger``: the durable run ledger (``ebus_batch_runs``) and its atomic claim: a (job, date)
  that succeeded is not run again unless forced, and never runs twice at once;
- ``runs``: one run in this process with a ``BusPollContext`` (``ebus batch run``);
- ``scheduler``: the in-process scheduler thread of ``ebus run`` (no Airflow configured);
- ``airflow``: triggering and watching the shipped DAGs through apache-airflow-client;
- ``dagspec`` and ``dags/ebus_batch.py``: the DAGs shipped for Airflow.

This package imports only ``jobs``, ``ledger`` and the settings models, so that
``runner.settings`` can use them; import the others by their module path.
"""

from __future__ import annotations

from runner.batch._settings import AirflowSettings, BatchSettings
from runner.batch.jobs import TIMEZONE, Job, data_date, find_job, job_registry
from runner.batch.ledger import BatchRun, Refused, RunLedger, RunState, Trigger

__all__ = [
    "TIMEZONE",
    "AirflowSettings",
    "BatchRun",
    "BatchSettings",
    "Job",
    "Refused",
    "RunLedger",
    "RunState",
    "Trigger",
    "data_date",
    "find_job",
    "job_registry",
]
