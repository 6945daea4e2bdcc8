"""``ebus batch``: list, run, trigger and status, in-process and through a loopback Airflow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import runner.cli_batch
from adapters._testkit import SinkServer
from runner.batch import RunLedger
from runner.cli import app
from runner.project import Project
from runner.stores import Database
from tests.batch.airflow_server import AirflowServer
from tests.batch.conftest import JobScript, transient

cli = CliRunner()


@pytest.fixture(autouse=True)
def _test_adapters(monkeypatch: pytest.MonkeyPatch, project: Project) -> None:
    monkeypatch.setattr(runner.cli_batch, "_project", lambda: project)
    monkeypatch.setattr(runner.cli_batch, "_registry", lambda: project.registry)


@pytest.fixture
def settings_file(tmp_path: Path, sink: SinkServer, system: str) -> Path:
    path = tmp_path / "ebus.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "bus": f"sqlite:///{tmp_path}/broker.db",
                "store": f"sqlite:///{tmp_path}/store.db",
                "systems": {system: {"endpoint": sink.url}},
            }
        )
    )
    return path


@pytest.fixture
def airflow_settings(settings_file: Path, system: str) -> Iterator[tuple[Path, AirflowServer]]:
    with AirflowServer([f"ebus_{system}.daily"]) as server:
        data = yaml.safe_load(settings_file.read_text())
        data["batch"] = {
            "airflow": {"url": server.url, "username": "ebus-api", "password": "s3cret"}
        }
        settings_file.write_text(yaml.safe_dump(data))
        yield settings_file, server


def _ebus(*args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, ["batch", *args])
    return result.exit_code, result.stdout, result.stderr


def _ledger_runs(settings_file: Path):
    store = yaml.safe_load(settings_file.read_text())["store"]
    with Database.open(store) as db:
        return RunLedger(db).runs()


def test_list_shows_each_job_with_schedule_next_run_and_who_runs_it(
    settings_file: Path, system: str
):
    code, out, _ = _ebus("list", "--config", str(settings_file))
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "JOB",
        "SCHEDULE",
        "NEXT",
        "RUN",
        "FOR",
        "DATE",
        "RUN",
        "BY",
        "SUMMARY",
    ]
    assert row.startswith(f"{system}.daily")
    assert "30 1 * * *" in row
    assert "01:30:00" in row
    assert "in-process" in row


def test_list_without_a_connected_system_says_so_and_all_shows_them(system: str):
    code, out, _ = _ebus("list")
    assert (code, out.strip()) == (
        0,
        "no batch jobs: no connected system declares one (--all lists every job)",
    )
    code, out, _ = _ebus("list", "--all")
    assert code == 0
    assert "not connected" in out


def test_run_runs_the_job_here_and_records_it(settings_file: Path, script: JobScript, system: str):
    code, out, _ = _ebus("run", f"{system}.daily", "--date", "2025-05-06", "-c", str(settings_file))
    assert code == 0, out
    assert out.strip() == f"{system}.daily 2025-05-06: success (attempt 1, 3 message(s) emitted)"
    (run,) = _ledger_runs(settings_file)
    assert (run.state, run.trigger, run.emitted) == ("success", "manual", 3)


def test_run_again_is_a_no_op_and_force_runs_it_anew(settings_file: Path, script: JobScript):
    args = ("run", "daily", "--date", "2025-05-06", "-c", str(settings_file))
    assert _ebus(*args)[0] == 0
    code, out, _ = _ebus(*args)
    assert code == 0
    assert "not run: already succeeded (attempt 1" in out
    assert _ebus(*args, "--force")[0] == 0
    assert len(script.calls) == 2


def test_a_failed_run_exits_1_with_its_reason(settings_file: Path, script: JobScript):
    script.fail = transient("no manifest_20250506.json yet")
    code, _, err = _ebus("run", "daily", "--date", "2025-05-06", "-c", str(settings_file))
    assert code == 1
    assert "failed (attempt 1): TransientError: no manifest_20250506.json yet" in err


def test_the_dag_command_form_takes_the_date_from_the_run_time(
    settings_file: Path, script: JobScript
):
    code, out, _ = _ebus(
        "run",
        "daily",
        "-c",
        str(settings_file),
        "--trigger",
        "airflow",
        "--date",
        "",
        "--run-after",
        "2025-05-06T17:30:00+00:00",
    )
    assert code == 0, out
    assert script.calls == [("daily", __import__("datetime").date(2025, 5, 6))]
    assert _ledger_runs(settings_file)[0].trigger == "airflow"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["dayly", "--date", "2025-05-06"], "did you mean", id="unknown job"),
        pytest.param(["daily", "--date", "6 May"], "not a date", id="bad date"),
    ],
)
def test_usage_errors_exit_2_with_a_hint(settings_file: Path, args: list[str], message: str):
    code, _, err = _ebus("run", *args, "-c", str(settings_file))
    assert code == 2
    assert message in err


def test_trigger_without_airflow_runs_the_job_here(settings_file: Path, script: JobScript):
    code, out, _ = _ebus("trigger", "daily", "--date", "2025-05-06", "-c", str(settings_file))
    assert code == 0, out
    assert "success (attempt 1, 3 message(s) emitted)" in out
    assert len(script.calls) == 1


def test_trigger_with_airflow_posts_a_dag_run_and_runs_nothing_here(
    airflow_settings: tuple[Path, AirflowServer], script: JobScript, system: str
):
    settings_file, server = airflow_settings
    code, out, _ = _ebus("trigger", "daily", "--date", "2025-05-06", "-c", str(settings_file))
    assert code == 0, out
    assert out.startswith(f"triggered ebus_{system}.daily run ebus__2025-05-06__")
    assert out.strip().endswith("for 2025-05-06: queued")
    assert script.calls == []
    assert server.runs[0]["conf"] == {"date": "2025-05-06", "force": False}
    code, _, err = _ebus("trigger", "daily", "--date", "2025-05-06", "-c", str(settings_file))
    assert code == 1
    assert "409" in err
    assert "--force starts another run" in err


def test_status_with_airflow_shows_its_dag_runs(
    airflow_settings: tuple[Path, AirflowServer], system: str
):
    settings_file, server = airflow_settings
    server.add_run(
        f"ebus_{system}.daily",
        dag_run_id="scheduled__1",
        run_type="scheduled",
        state="failed",
        logical_date="2025-05-06T17:30:00+00:00",
        start_date="2025-05-06T17:30:02+00:00",
        end_date="2025-05-06T17:31:00+00:00",
    )
    code, out, _ = _ebus("status", "daily", "-c", str(settings_file))
    assert code == 0, out
    header, row = out.splitlines()
    assert header.split()[:3] == ["JOB", "DATE", "STATE"]
    assert row.split()[:4] == [f"{system}.daily", "2025-05-06", "failed", "scheduled"]
    assert "2025-05-07 01:30:02" in row  # shown in +08:00
    assert server.requests[-1].query["limit"] == ["20"]


def test_status_reads_the_local_ledger_without_airflow(
    settings_file: Path, script: JobScript, system: str
):
    code, _, err = _ebus("status", "-c", str(settings_file))
    assert (code, err.split(" at ")[0]) == (1, "error: no store")  # the bus never ran here
    _ebus("run", "daily", "--date", "2025-05-05", "-c", str(settings_file))
    script.fail = transient("not yet")
    _ebus("run", "daily", "--date", "2025-05-06", "-c", str(settings_file))
    code, out, _ = _ebus("status", "-c", str(settings_file))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "JOB",
        "DATE",
        "TRY",
        "STATE",
        "BY",
        "STARTED",
        "FINISHED",
        "EMITTED",
        "ERROR",
    ]
    assert lines[1].split()[:4] == [f"{system}.daily", "2025-05-06", "1", "failed"]
    assert lines[1].endswith("TransientError: not yet")
    assert lines[2].split()[:4] == [f"{system}.daily", "2025-05-05", "1", "success"]


def test_status_local_reads_the_ledger_even_with_airflow(
    airflow_settings: tuple[Path, AirflowServer],
):
    settings_file, server = airflow_settings
    Database.open(yaml.safe_load(settings_file.read_text())["store"]).close()
    code, out, _ = _ebus("status", "--local", "-c", str(settings_file))
    assert (code, out.strip()) == (0, "no batch runs recorded yet")
    assert server.requests == []


@pytest.mark.parametrize("command", ["list", "run", "trigger", "status"])
def test_every_batch_command_explains_itself(command: str):
    code, out, _ = _ebus(command, "--help")
    assert code == 0
    assert "--config" in out
