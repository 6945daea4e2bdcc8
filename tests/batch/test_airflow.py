"""The Airflow client code against a loopback server speaking the Airflow 3 REST API."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
from collections.abc import Iterator

import pytest

from runner.batch import AirflowSettings, Job, find_job, job_registry
from runner.batch.airflow import AirflowClient, AirflowError
from runner.registry import Registry
from tests.batch.airflow_server import AirflowServer
from tests.batch.conftest import Clock, JobScript, batch_adapter

DAY = dt.date(2025, 5, 6)


@pytest.fixture
def job(script: JobScript) -> Job:
    registry = Registry([batch_adapter(script, "market_reg", ("daily", "window"))])
    return find_job(job_registry(registry, ["market_reg"]), "daily")


@pytest.fixture
def server() -> Iterator[AirflowServer]:
    with AirflowServer(["ebus_market_reg.daily", "ebus_market_reg.window"]) as running:
        yield running


@pytest.fixture
def client(server: AirflowServer) -> AirflowClient:
    settings = AirflowSettings(url=server.url, username="ebus-api", password="s3cret")
    return AirflowClient(settings, clock=Clock("2025-05-07T09:15:00"))


def _body(server: AirflowServer, index: int = -1) -> dict:
    return json.loads(server.requests[index].body)


def test_a_trigger_signs_in_then_posts_a_dag_run_with_the_date_and_its_logical_date(
    server: AirflowServer, client: AirflowClient, job: Job
):
    run = client.trigger(job, DAY)
    token_call, post = server.requests
    assert (token_call.method, token_call.path) == ("POST", "/auth/token")
    assert json.loads(token_call.body) == {"username": "ebus-api", "password": "s3cret"}
    assert (post.method, post.path) == ("POST", "/api/v2/dags/ebus_market_reg.daily/dagRuns")
    assert post.headers["authorization"] == "Bearer jwt-1"
    assert post.headers["content-type"] == "application/json"
    body = json.loads(post.body)
    assert body["conf"] == {"date": "2025-05-06", "force": False}
    assert dt.datetime.fromisoformat(body["logical_date"]) == dt.datetime.fromisoformat(
        "2025-05-07T01:30:00+08:00"
    )
    assert re.fullmatch(r"ebus__2025-05-06__20250507T011500_[0-9a-f]{6}", body["dag_run_id"])
    assert body["note"] == "ebus batch trigger market_reg.daily --date 2025-05-06"
    assert (run.dag_id, run.job, run.date, run.state) == (
        "ebus_market_reg.daily",
        "market_reg.daily",
        DAY,
        "queued",
    )


def test_a_second_trigger_of_a_date_is_refused_by_airflow_unless_forced(
    server: AirflowServer, client: AirflowClient, job: Job
):
    client.trigger(job, DAY)
    with pytest.raises(AirflowError, match="409") as refused:
        client.trigger(job, DAY)
    assert refused.value.status == 409
    forced = client.trigger(job, DAY, force=True)
    body = _body(server)
    assert body["logical_date"] is None
    assert body["conf"] == {"date": "2025-05-06", "force": True}
    assert forced.date == DAY
    assert len(server.issued) == 1  # the token was reused


def test_an_expired_token_is_exchanged_again_once(
    server: AirflowServer, client: AirflowClient, job: Job
):
    client.trigger(job, DAY)
    server.expire_tokens()
    client.trigger(job, DAY + dt.timedelta(days=1))
    assert server.issued == ["jwt-1", "jwt-2"]
    assert [r.headers.get("authorization") for r in server.requests if r.path != "/auth/token"] == [
        "Bearer jwt-1",
        "Bearer jwt-1",
        "Bearer jwt-2",
    ]


def test_a_configured_token_is_sent_as_is_with_no_sign_in(server: AirflowServer, job: Job):
    server.grant("static-token")
    client = AirflowClient(AirflowSettings(url=server.url, token="static-token"))
    client.trigger(job, DAY)
    (post,) = server.requests
    assert post.headers["authorization"] == "Bearer static-token"
    server.expire_tokens()
    with pytest.raises(AirflowError, match="401") as refused:
        client.trigger(job, DAY + dt.timedelta(days=1))
    assert refused.value.status == 401
    assert all(r.path != "/auth/token" for r in server.requests)


def test_wrong_credentials_are_reported_without_the_password(server: AirflowServer, job: Job):
    settings = AirflowSettings(url=server.url, username="ebus-api", password="wrong-pw")
    with pytest.raises(AirflowError) as refused:
        AirflowClient(settings).trigger(job, DAY)
    assert "refused the sign-in of 'ebus-api' (401): Invalid credentials" in str(refused.value)
    assert "wrong-pw" not in str(refused.value)


def test_an_unknown_dag_is_reported_with_airflows_detail(
    server: AirflowServer, client: AirflowClient, job: Job
):
    server.dags.clear()
    with pytest.raises(AirflowError) as refused:
        client.trigger(job, DAY)
    assert refused.value.status == 404
    assert "was not found" in str(refused.value)


def test_an_unreachable_airflow_is_an_airflow_error(job: Job):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = AirflowSettings(url=f"http://127.0.0.1:{port}", token="t", timeout="2s")
    with pytest.raises(AirflowError, match=r"cannot reach Airflow|answered 0"):
        AirflowClient(settings).trigger(job, DAY)


def test_the_runs_of_one_job_are_listed_newest_first(
    server: AirflowServer, client: AirflowClient, job: Job
):
    server.add_run(
        "ebus_market_reg.daily",
        dag_run_id="scheduled__2025-05-07T01:30:00+08:00",
        run_type="scheduled",
        state="success",
        logical_date="2025-05-06T17:30:00+00:00",
        run_after="2025-05-06T17:30:00+00:00",
        start_date="2025-05-06T17:30:02+00:00",
        end_date="2025-05-06T17:41:00+00:00",
    )
    client.trigger(job, dt.date(2025, 5, 7))
    runs = client.runs(job, limit=5)
    get = server.requests[-1]
    assert (get.method, get.path) == ("GET", "/api/v2/dags/ebus_market_reg.daily/dagRuns")
    assert get.query["limit"] == ["5"]
    assert get.query["order_by"] == ["-run_after"]
    assert [(r.date, r.state, r.run_type) for r in runs] == [
        (dt.date(2025, 5, 7), "queued", "manual"),
        (DAY, "success", "scheduled"),  # a scheduled run: the day before its logical date
    ]
    assert runs[1].end_date == dt.datetime.fromisoformat("2025-05-06T17:41:00+00:00")


def test_the_runs_of_every_ebus_dag_are_listed_through_the_prefix(
    server: AirflowServer, client: AirflowClient, job: Job
):
    server.add_run("other_team_dag", dag_run_id="x")
    server.add_run("ebus_market_reg.window", dag_run_id="w", conf={"date": "2025-05-01"})
    runs = client.runs()
    get = server.requests[-1]
    assert get.path == "/api/v2/dags/~/dagRuns"
    assert get.query["dag_id_prefix_pattern"] == ["ebus_"]
    assert [(r.job, r.date) for r in runs] == [("market_reg.window", dt.date(2025, 5, 1))]
