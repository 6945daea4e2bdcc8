"""The ``batch:`` key of the settings: who runs the scheduled batch jobs, and how.

Kept free of runner imports other than durations, so ``runner.settings`` can import it.

Example::

    batch:
      retries: 2                 # a failed run is tried again twice
      retry_delay: 10m
      airflow:                   # absent or null: the bus runs the jobs itself, on schedule
        url: http://airflow.internal:8080
        username: ebus-api
        password: ${EBUS_AIRFLOW_PASSWORD}
        dag_prefix: ebus_
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from runner.durations import Duration

__all__ = ["AirflowSettings", "BatchSettings"]


class AirflowSettings(BaseModel):
    """Where the Apache Airflow 3 API server is, and how the bus signs in to it.

    Give either ``token`` (a JWT, e.g. from a secret store) or ``username`` and ``password``
    (exchanged for a token at ``POST {url}/auth/token``, again when it expires).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    """Base URL of the API server, without ``/api/v2`` (``http://airflow.internal:8080``)."""
    username: str | None = None
    """User name exchanged for a token together with ``password``."""
    password: SecretStr | None = None
    """Password of ``username`` (write ``${ENV_VAR}``, never the value)."""
    token: SecretStr | None = None
    """A ready access token (instead of ``username``/``password``)."""
    dag_prefix: str = Field(default="ebus_", pattern=r"^[A-Za-z0-9_.-]*$")
    """The DAG of job ``market_reg.nightly_import`` is ``<dag_prefix>market_reg.nightly_import``."""
    timeout: Duration = 30.0
    """Time limit of one API call."""
    verify_tls: bool = True
    """Check the server's certificate (turn off only for a test server)."""
    start_date: dt.date = dt.date(2025, 1, 1)
    """The shipped DAGs' ``start_date`` (Asia/Shanghai midnight)."""
    catchup: bool = False
    """Let Airflow create the runs missed since ``start_date`` (in order, one at a time)."""

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> AirflowSettings:
        has_user = self.username is not None or self.password is not None
        if self.token is not None and has_user:
            raise ValueError("give either token or username and password, not both")
        if self.token is None and (self.username is None or self.password is None):
            raise ValueError("give token, or both username and password")
        return self


class BatchSettings(BaseModel):
    """Scheduled batch jobs (``SPEC.batch_jobs`` of the connected systems)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    airflow: AirflowSettings | None = None
    """Apache Airflow runs the jobs through the shipped DAGs; null: the bus runs them itself."""
    schedule: bool = True
    """Without Airflow, run the jobs in ``ebus run`` on their schedules (off: only by hand)."""
    retries: int = Field(default=2, ge=0, le=20)
    """Further attempts after a failed scheduled run (in-process and in the DAGs alike)."""
    retry_delay: Duration = 600.0
    """Wait between a failed attempt and the next one."""
    lease: Duration = Field(default=600.0, gt=0)
    """A run whose process has not reported for this long is taken as abandoned (killed)."""
    tick: Duration = Field(default=30.0, gt=0)
    """How often the in-process scheduler looks for due jobs, at most."""
    archive_days: int = Field(default=35, ge=1, le=3660)
    """Days of canonical messages the day archive keeps for the jobs that read them
    (``BatchJob.archives``): a day older than this is deleted and can no longer be read."""
