"""Triggering and watching the shipped DAGs through apache-airflow-client (Airflow 3, /api/v2).

The DAG of job ``J`` is ``<dag_prefix>J`` (``runner/batch/dags/ebus_batch.py``). A trigger
POSTs a DAG run with ``conf = {"date": D, "force": …}`` (the DAG's task passes the date to
``ebus batch run``) and the logical date of the scheduled run for ``D`` (``Job.fire_for``), so
Airflow refuses (409) a second run of a date it already has; ``force`` sends no logical date,
which Airflow 3 accepts any number of times.

Sign-in: a configured ``token``, or ``username``/``password`` exchanged for one at
``POST {url}/auth/token`` (and exchanged again once when a call answers 401, the token having
expired). Failures of the client (its ``ApiException``, urllib3's connection errors) become
``AirflowError`` with the status and Airflow's ``detail``, never the credentials.

Example::

    client = AirflowClient(settings.batch.airflow)
    run = client.trigger(job, dt.date(2025, 5, 6))
    for run in client.runs(job, limit=10):
        print(run.dag_run_id, run.state)
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import urllib3
from airflow_client.client import ApiClient, Configuration
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.exceptions import ApiException
from airflow_client.client.models.dag_run_response import DAGRunResponse
from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

from runner.batch._settings import AirflowSettings
from runner.batch.jobs import Job, data_date
from runner.errors import EbusError
from runner.stamp import now as wall_clock

__all__ = ["AirflowClient", "AirflowError", "DagRunInfo"]

_T = TypeVar("_T")


class AirflowError(EbusError):
    """Airflow refused a call or could not be reached; ``status`` is the HTTP status (0: no
    answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class DagRunInfo:
    """One DAG run as Airflow reports it, with the job and data date it stands for."""

    dag_id: str
    dag_run_id: str
    job: str
    date: dt.date | None
    state: str
    run_type: str
    logical_date: dt.datetime | None
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    note: str | None


class AirflowClient:
    """The bus's side of the Airflow REST API for its batch DAGs."""

    def __init__(
        self, settings: AirflowSettings, *, clock: Callable[[], dt.datetime] = wall_clock
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._base = settings.url.rstrip("/")
        self._token = settings.token.get_secret_value() if settings.token else None

    def dag_id(self, job: Job) -> str:
        """The DAG id of ``job``."""
        return f"{self.settings.dag_prefix}{job.id}"

    def trigger(self, job: Job, date: dt.date, *, force: bool = False) -> DagRunInfo:
        """Start a DAG run of ``job`` for ``date``; ``AirflowError`` (409) when Airflow already
        has the scheduled run of that date and ``force`` is not given."""
        stamp = self.clock().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S")
        body = TriggerDAGRunPostBody(
            dag_run_id=f"ebus__{date.isoformat()}__{stamp}_{secrets.token_hex(3)}",
            logical_date=None if force else job.fire_for(date),
            conf={"date": date.isoformat(), "force": force},
            note=f"ebus batch trigger {job.id} --date {date.isoformat()}"
            + (" --force" if force else ""),
        )
        dag_id = self.dag_id(job)
        response = self._call(
            f"trigger {dag_id}",
            lambda api: api.trigger_dag_run(dag_id, body, _request_timeout=self.settings.timeout),
        )
        return self._info(response)

    def runs(self, job: Job | None = None, *, limit: int = 20) -> list[DagRunInfo]:
        """The most recent runs (newest first) of ``job``'s DAG, or of every ebus DAG."""
        dag_id = self.dag_id(job) if job else "~"
        prefix = None if job else self.settings.dag_prefix or None
        collection = self._call(
            f"list runs of {dag_id}",
            lambda api: api.get_dag_runs(
                dag_id,
                limit=limit,
                order_by=["-run_after"],
                dag_id_prefix_pattern=prefix,
                _request_timeout=self.settings.timeout,
            ),
        )
        return [self._info(run) for run in collection.dag_runs]

    def _info(self, run: DAGRunResponse) -> DagRunInfo:
        conf: dict[str, Any] = run.conf or {}
        try:
            date: dt.date | None = dt.date.fromisoformat(str(conf["date"]))
        except (KeyError, ValueError):
            fired = run.logical_date or run.run_after
            date = data_date(fired) if fired.tzinfo else None
        return DagRunInfo(
            dag_id=run.dag_id,
            dag_run_id=run.dag_run_id,
            job=run.dag_id.removeprefix(self.settings.dag_prefix),
            date=date,
            state=run.state.value,
            run_type=run.run_type.value,
            logical_date=run.logical_date,
            start_date=run.start_date,
            end_date=run.end_date,
            note=run.note,
        )

    def _call(self, what: str, call: Callable[[DagRunApi], _T]) -> _T:
        """Make ``call`` with a valid token, signing in again once on a 401."""
        for attempt in (1, 2):
            with ApiClient(self._configuration()) as api_client:
                try:
                    return call(DagRunApi(api_client))
                except ApiException as exc:
                    status = int(exc.status or 0)
                    if status == 401 and attempt == 1 and self.settings.token is None:
                        self._token = None  # expired: exchange the password again
                        continue
                    raise AirflowError(
                        f"Airflow answered {status} to {what}: {_detail(exc.body, exc.reason)}",
                        status,
                    ) from None
                except urllib3.exceptions.HTTPError as exc:
                    raise AirflowError(
                        f"cannot reach Airflow at {self._base} ({type(exc).__name__})"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _configuration(self) -> Configuration:
        config = Configuration(host=self._base, access_token=self._access_token())
        config.verify_ssl = self.settings.verify_tls
        config.retries = 1
        return config

    def _access_token(self) -> str:
        if self._token is None:
            self._token = self._exchange()
        return self._token

    def _exchange(self) -> str:
        """``POST {url}/auth/token`` with the user name and password; the access token."""
        assert self.settings.username is not None
        assert self.settings.password is not None
        payload = {
            "username": self.settings.username,
            "password": self.settings.password.get_secret_value(),
        }
        try:
            response = httpx.post(
                f"{self._base}/auth/token",
                json=payload,
                timeout=self.settings.timeout,
                verify=self.settings.verify_tls,
            )
        except httpx.HTTPError as exc:
            raise AirflowError(
                f"cannot reach Airflow at {self._base} ({type(exc).__name__})"
            ) from None
        if response.status_code not in (200, 201):
            detail = _detail(response.text, response.reason_phrase)
            raise AirflowError(
                f"Airflow refused the sign-in of '{self.settings.username}' "
                f"({response.status_code}): {detail}",
                response.status_code,
            )
        try:
            return str(response.json()["access_token"])
        except (ValueError, KeyError, TypeError):
            raise AirflowError("Airflow's /auth/token answer has no access_token") from None


def _detail(body: Any, reason: Any) -> str:
    """Airflow's ``detail`` from an error body, else the status reason (cut short)."""
    try:
        detail = json.loads(body)["detail"]
    except (TypeError, ValueError, KeyError):
        detail = reason or "no detail"
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return text[:300]
