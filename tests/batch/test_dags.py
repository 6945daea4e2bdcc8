"""The shipped Airflow DAGs: built from the jobs, importable without Airflow, and their command
runs the job for the right date (tested with stand-ins for Airflow's classes and a real bash)."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import shlex
import stat
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import runner.cli_batch
from adapters._testkit import SinkServer
from runner.batch.dagspec import ENV_TEMPLATES, DagSpec, load_dag_specs
from runner.cli import app
from runner.project import Project
from runner.registry import Registry

DAG_FILE = Path(runner.cli_batch.__file__).parent / "batch" / "dags" / "ebus_batch.py"


@pytest.fixture
def settings_file(tmp_path: Path, sink: SinkServer, system: str) -> Path:
    path = tmp_path / "ebus.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "bus": f"sqlite:///{tmp_path}/broker.db",
                "store": f"sqlite:///{tmp_path}/store.db",
                "systems": {system: {"endpoint": sink.url}},
                "batch": {"retries": 3, "retry_delay": "5m"},
            }
        )
    )
    return path


def _specs(settings_file: Path, registry: Registry, ebus: str = "/opt/ebus/bin/ebus"):
    return load_dag_specs({"EBUS_CONFIG": str(settings_file), "EBUS_BIN": ebus}, registry)


def test_one_dag_per_job_with_its_schedule_timezone_and_retries(
    settings_file: Path, registry: Registry, system: str
):
    (spec,) = _specs(settings_file, registry)
    assert (spec.dag_id, spec.job, spec.system) == (
        f"ebus_{system}.daily",
        f"{system}.daily",
        system,
    )
    assert (spec.schedule, spec.timezone) == ("30 1 * * *", "Asia/Shanghai")
    assert (spec.retries, spec.retry_delay_s, spec.max_active_runs) == (3, 300.0, 1)
    assert (spec.start_date, spec.catchup) == (dt.date(2025, 1, 1), False)
    assert shlex.split(spec.bash_command)[:5] == [
        "/opt/ebus/bin/ebus",
        "batch",
        "run",
        f"{system}.daily",
        "--config",
    ]
    assert spec.env == ENV_TEMPLATES


def test_no_settings_connect_no_system_and_make_no_dag(registry: Registry):
    assert load_dag_specs({}, registry) == []


def test_the_conf_reaches_the_command_only_through_the_environment():
    assert ENV_TEMPLATES == {
        "EBUS_BATCH_DATE": "{{ (dag_run.conf or {}).get('date') or '' }}",
        "EBUS_BATCH_RUN_AFTER": "{{ dag_run.run_after.isoformat() }}",
        "EBUS_BATCH_FORCE": "{{ '--force' if (dag_run.conf or {}).get('force') else '' }}",
    }


def test_the_dag_file_imports_without_airflow_and_then_builds_no_dag(
    monkeypatch: pytest.MonkeyPatch,
):
    for name in ("airflow", "pendulum"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it raises ImportError
    monkeypatch.delitem(sys.modules, "runner.batch.dags.ebus_batch", raising=False)
    module = importlib.import_module("runner.batch.dags.ebus_batch")
    assert module.DAGS == {}
    assert module.SPECS == []  # no EBUS_CONFIG here


def test_the_dag_file_is_found_by_airflows_safe_mode_scan():
    text = DAG_FILE.read_bytes().lower()
    assert b"airflow" in text
    assert b"dag" in text


class _Recorder:
    """Stands in for an Airflow class: keeps the keyword arguments it was built with."""

    made: list[_Recorder]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        type(self).made.append(self)


def _fake_airflow(monkeypatch: pytest.MonkeyPatch) -> dict[str, type[_Recorder]]:
    classes = {
        name: type(name, (_Recorder,), {"made": []})
        for name in ("DAG", "BashOperator", "CronTriggerTimetable")
    }
    modules = {
        "airflow": {},
        "airflow.sdk": {"DAG": classes["DAG"]},
        "airflow.providers": {},
        "airflow.providers.standard": {},
        "airflow.providers.standard.operators": {},
        "airflow.providers.standard.operators.bash": {"BashOperator": classes["BashOperator"]},
        "airflow.timetables": {},
        "airflow.timetables.trigger": {"CronTriggerTimetable": classes["CronTriggerTimetable"]},
        "pendulum": {"datetime": lambda *a, tz: ("pendulum", *a, tz)},
    }
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    return classes


def test_with_airflow_each_spec_becomes_a_dag_with_one_bash_task(
    monkeypatch: pytest.MonkeyPatch, settings_file: Path, registry: Registry, system: str
):
    classes = _fake_airflow(monkeypatch)
    from runner.batch.dags.ebus_batch import build_dags  # noqa: PLC0415

    dags = build_dags(_specs(settings_file, registry))
    (dag,) = classes["DAG"].made
    assert dags == {f"ebus_{system}.daily": dag}
    assert dag.kwargs["dag_id"] == f"ebus_{system}.daily"
    assert dag.kwargs["start_date"] == ("pendulum", 2025, 1, 1, "Asia/Shanghai")
    assert dag.kwargs["default_args"] == {"retries": 3, "retry_delay": dt.timedelta(minutes=5)}
    assert (dag.kwargs["max_active_runs"], dag.kwargs["catchup"]) == (1, False)
    assert dag.kwargs["tags"] == ["ebus", system]
    (timetable,) = classes["CronTriggerTimetable"].made
    assert dag.kwargs["schedule"] is timetable
    assert timetable.args == ("30 1 * * *",)
    assert timetable.kwargs == {"timezone": "Asia/Shanghai"}
    (task,) = classes["BashOperator"].made
    assert task.kwargs["dag"] is dag
    assert task.kwargs["task_id"] == "run"
    assert task.kwargs["env"] == dict(ENV_TEMPLATES)
    assert task.kwargs["append_env"] is True


def _argv_of(spec: DagSpec, tmp_path: Path, env: dict[str, str]) -> list[str]:
    """The arguments ``ebus`` gets when bash runs the task's command with ``env``."""
    fake = tmp_path / "fake-ebus"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    command = spec.bash_command.replace(shlex.split(spec.bash_command)[0], str(fake), 1)
    done = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split("\n")[:-1]


@pytest.mark.parametrize(
    ("env", "expected_date", "forced"),
    [
        pytest.param(
            {"EBUS_BATCH_DATE": "", "EBUS_BATCH_FORCE": ""},
            dt.date(2025, 5, 6),
            False,
            id="a scheduled run works on the day before its run time",
        ),
        pytest.param(
            {"EBUS_BATCH_DATE": "2025-05-01", "EBUS_BATCH_FORCE": "--force"},
            dt.date(2025, 5, 1),
            True,
            id="a triggered run works on the date of its conf",
        ),
    ],
)
def test_the_task_command_runs_the_job_for_the_runs_date(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings_file: Path,
    project: Project,
    script,
    env: dict[str, str],
    expected_date: dt.date,
    forced: bool,
):
    (spec,) = _specs(settings_file, project.registry)
    argv = _argv_of(spec, tmp_path, {**env, "EBUS_BATCH_RUN_AFTER": "2025-05-06T17:30:00+00:00"})
    assert argv[:2] == ["batch", "run"]
    assert ("--force" in argv) is forced
    monkeypatch.setattr(runner.cli_batch, "_project", lambda: project)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "success" in result.stdout
    assert script.calls == [("daily", expected_date)]
