"""``ebus batch …``: list, run, trigger and watch the scheduled batch jobs.

Jobs are the ``SPEC.batch_jobs`` of the systems connected in the settings (``--config``),
named ``<system>.<job>`` (or by the bare job name when only one system has it). With
``batch.airflow`` in the settings, Apache Airflow runs them through the shipped DAGs and
``trigger``/``status`` talk to Airflow; without it, ``ebus run`` runs them on their schedules
and ``trigger``/``status`` work on this bus's own ledger.

Exit codes: 0 on success (also when the date had already succeeded), 1 when a run failed, is
in progress elsewhere, or Airflow refused, 2 on a usage or settings error. Times are shown in
China Standard Time (+08:00).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runner.batch.jobs import Job, data_date, find_job, job_registry
from runner.batch.ledger import BatchRun, RunLedger
from runner.errors import ConfigError
from runner.settings import Settings, load_settings
from runner.stamp import now
from schemas.timeutil import SHANGHAI

if TYPE_CHECKING:
    from runner.batch.airflow import DagRunInfo
    from runner.batch.runs import RunResult
    from runner.project import Project
    from runner.registry import Registry

__all__ = ["batch_app"]

batch_app = typer.Typer(
    help=(
        "Scheduled batch jobs (national daily packages, nightly imports): list them, run one "
        "here, trigger one (through Airflow when configured) and see recent runs."
    ),
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Settings YAML: store, bus, connected systems, batch.airflow."
    ),
]
JobArgument = Annotated[
    str,
    typer.Argument(
        metavar="JOB", help="Job id <system>.<job> (or the job's name alone when unique)."
    ),
]
DateOption = Annotated[
    str | None,
    typer.Option(
        "--date", help="Data date YYYY-MM-DD the run works on (default: yesterday, +08:00)."
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Run again even though this date already succeeded.")
]


class TriggerChoice(StrEnum):
    """Who asked for a run (recorded in the ledger)."""

    manual = "manual"
    airflow = "airflow"


def _project() -> Project:
    """The deployment's compiled project (tests replace this)."""
    from runner.project import load_project  # noqa: PLC0415  (loads every mapping)

    return load_project()


def _registry() -> Registry:
    """The installed adapters (tests replace this)."""
    from runner.registry import default_registry  # noqa: PLC0415

    return default_registry()


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _settings(path: Path | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        raise _fail(f"error: {exc}", 2) from None


def _job(settings: Settings, registry: Registry, name: str) -> Job:
    try:
        return find_job(job_registry(registry, settings.systems), name)
    except ConfigError as exc:
        raise _fail(f"error: {exc}", 2) from None


def _date(text: str | None, run_after: str | None = None) -> dt.date:
    """The data date: ``--date``, else the day before ``--run-after``, else yesterday."""
    try:
        if text:
            return dt.date.fromisoformat(text)
        if run_after:
            fired = dt.datetime.fromisoformat(run_after)
            return data_date(fired if fired.tzinfo else fired.replace(tzinfo=SHANGHAI))
    except ValueError:
        raise _fail(
            f"error: not a date YYYY-MM-DD / time ISO 8601: {text or run_after!r}", 2
        ) from None
    return data_date(now())


def _when(at: dt.datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@batch_app.command("list")
def list_command(
    config: ConfigOption = None,
    every: Annotated[
        bool, typer.Option("--all", help="Also the jobs of installed systems not connected.")
    ] = False,
) -> None:
    """List the batch jobs, their schedules and next runs.

    Schedules are cron lines in Asia/Shanghai; FOR DATE is the data date the next run works
    on; RUN BY says whether the bus runs the job itself or through its Airflow DAG.
    """
    settings = _settings(config)
    registry = _registry()
    connected = set(settings.systems)
    systems = registry.ids() if every else sorted(connected)
    try:
        jobs = job_registry(registry, systems)
    except ConfigError as exc:
        raise _fail(f"error: {exc}", 2) from None
    airflow = settings.batch.airflow
    at = now()
    rows = []
    for job in jobs.values():
        fired = job.next_fire(at)
        if job.system not in connected:
            runner = "not connected"
        elif airflow is not None:
            runner = f"airflow {airflow.dag_prefix}{job.id}"
        else:
            runner = "in-process" if settings.batch.schedule else "by hand only"
        rows.append(
            [job.id, job.schedule, _when(fired), str(data_date(fired)), runner, job.spec.summary]
        )
    if not rows:
        typer.echo("no batch jobs: no connected system declares one (--all lists every job)")
        return
    _table(["JOB", "SCHEDULE", "NEXT RUN", "FOR DATE", "RUN BY", "SUMMARY"], rows)


@batch_app.command("run")
def run_command(
    name: JobArgument,
    date: DateOption = None,
    force: ForceOption = False,
    run_after: Annotated[
        str | None,
        typer.Option(
            "--run-after",
            help="When --date is empty: the scheduled time of the run (its date is the day "
            "before). The Airflow DAGs pass both.",
        ),
    ] = None,
    trigger: Annotated[
        TriggerChoice, typer.Option(help="Who asks, as recorded in the ledger.")
    ] = TriggerChoice.manual,
    config: ConfigOption = None,
) -> None:
    """Run one job for one data date in this process, and record it in the run ledger.

    A date that already succeeded is not run again (exit 0) unless --force; a date with a run
    in progress anywhere is refused (exit 1). This is what the Airflow DAGs execute.
    """
    settings = _settings(config)
    day = _date(date, run_after)
    _report(_run_here(settings, name, day, force=force, trigger=trigger.value))


def _run_here(
    settings: Settings, name: str, day: dt.date, *, force: bool, trigger: str
) -> RunResult:
    from runner.batch.runs import run_job  # noqa: PLC0415
    from runner.engine.services import Services  # noqa: PLC0415
    from runner.logs import configure_logging  # noqa: PLC0415

    project = _project()
    job = _job(settings, project.registry, name)
    configure_logging()
    services = Services.open(project, settings)
    try:
        ledger = RunLedger(services.db, lease_s=settings.batch.lease)
        return run_job(
            services,
            ledger,
            job,
            day,
            trigger="airflow" if trigger == "airflow" else "manual",
            force=force,
        )
    finally:
        services.close()


def _report(result: RunResult) -> None:
    head = f"{result.job} {result.date.isoformat()}"
    run = result.run
    if result.state == "success" and run is not None:
        typer.echo(f"{head}: success (attempt {run.attempt}, {result.emitted} message(s) emitted)")
        return
    if result.state == "failed" and run is not None:
        raise _fail(f"{head}: failed (attempt {run.attempt}): {result.error}")
    refused = result.refused
    assert refused is not None
    typer.echo(f"{head}: not run: {refused.describe()}")
    if refused.reason != "succeeded":
        raise typer.Exit(1)


@batch_app.command("trigger")
def trigger_command(
    name: JobArgument,
    date: DateOption = None,
    force: ForceOption = False,
    config: ConfigOption = None,
) -> None:
    """Start one run of a job for a data date now.

    With batch.airflow configured: POST a run of the job's DAG (conf date and force), and
    print its run id; watch it with `ebus batch status`. Without: run it here, as `ebus batch
    run` does.
    """
    settings = _settings(config)
    day = _date(date)
    airflow = settings.batch.airflow
    if airflow is None:
        _report(_run_here(settings, name, day, force=force, trigger="manual"))
        return
    from runner.batch.airflow import AirflowClient, AirflowError  # noqa: PLC0415

    job = _job(settings, _registry(), name)
    try:
        run = AirflowClient(airflow).trigger(job, day, force=force)
    except AirflowError as exc:
        hint = "; --force starts another run" if exc.status == 409 and not force else ""
        raise _fail(f"error: {exc}{hint}") from None
    typer.echo(f"triggered {run.dag_id} run {run.dag_run_id} for {day.isoformat()}: {run.state}")


@batch_app.command("status")
def status_command(
    name: Annotated[
        str | None, typer.Argument(metavar="JOB", help="Only this job (default: every job).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs to show.")] = 20,
    local: Annotated[
        bool,
        typer.Option("--local", help="Read this bus's run ledger even when Airflow is configured."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Show the most recent runs, newest first.

    From Airflow (its DAG runs) when batch.airflow is configured, else (or with --local) from
    the bus's run ledger, with attempts, messages emitted and errors.
    """
    settings = _settings(config)
    job = _job(settings, _registry(), name) if name else None
    airflow = settings.batch.airflow
    if airflow is not None and not local:
        from runner.batch.airflow import AirflowClient, AirflowError  # noqa: PLC0415

        try:
            runs = AirflowClient(airflow).runs(job, limit=limit)
        except AirflowError as exc:
            raise _fail(f"error: {exc}") from None
        _airflow_table(runs)
        return
    _ledger_table(settings, job, limit)


def _airflow_table(runs: Sequence[DagRunInfo]) -> None:
    if not runs:
        typer.echo("no runs in Airflow yet")
        return
    rows = [
        [
            r.job,
            r.date.isoformat() if r.date else "-",
            r.state,
            r.run_type,
            _when(r.start_date),
            _when(r.end_date),
            r.dag_run_id,
        ]
        for r in runs
    ]
    _table(["JOB", "DATE", "STATE", "TYPE", "STARTED", "FINISHED", "AIRFLOW RUN"], rows)


def _ledger_table(settings: Settings, job: Job | None, limit: int) -> None:
    from runner.stores.db import Database  # noqa: PLC0415

    try:
        db = Database.open(settings.store, create=False)
    except ConfigError as exc:
        raise _fail(f"error: {exc}") from None
    with db:
        runs: list[BatchRun] = RunLedger(db).runs(job.id if job else None, limit=limit)
    if not runs:
        typer.echo("no batch runs recorded yet")
        return
    rows = [
        [
            r.job,
            r.date.isoformat(),
            str(r.attempt),
            r.state,
            r.trigger,
            _when(r.started_at),
            _when(r.finished_at),
            str(r.emitted),
            (r.error or "")[:80],
        ]
        for r in runs
    ]
    headers = ["JOB", "DATE", "TRY", "STATE", "BY", "STARTED", "FINISHED", "EMITTED", "ERROR"]
    _table(headers, rows)
