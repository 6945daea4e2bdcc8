"""Fixtures of the batch tests: a store on SQLite and on the real PostgreSQL, a clock the test
moves, and a test adapter whose batch jobs emit test-kit subjects through the real embedded bus.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from adapters._testkit import SinkServer, kit_adapter, make_subject, write_kit_project
from adapters._transports.http import http_connector
from runner.adapter_api import AdapterConfig, BatchJob, PollContext, RawMessage
from runner.engine.services import Services
from runner.errors import TransientError
from runner.project import Project, load_project
from runner.registry import Registry
from runner.settings import Settings
from schemas.timeutil import SHANGHAI
from tests.runner.stores import conftest as stores

store_url = stores.store_url  # the stores' fixtures: an empty store on each backend
db = stores.db


class Clock:
    """A clock the test sets (aware, +08:00)."""

    def __init__(self, start: str = "2025-05-06T10:00:00") -> None:
        self.now = _at(start)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, text: str) -> None:
        """Move to an ISO time (+08:00 when no zone is given)."""
        self.now = _at(text)


def _at(text: str) -> dt.datetime:
    at = dt.datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=SHANGHAI)


class JobScript:
    """What the test jobs do: emit ``count`` subjects per run, or fail, or wait at a gate."""

    def __init__(self) -> None:
        self.count = 3
        self.fail: Exception | None = None
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.calls: list[tuple[str, dt.date]] = []
        self._lock = threading.Lock()

    def job(self, name: str) -> BatchJob:
        """A ``BatchJob.run`` for job ``name``."""

        def run(ctx: PollContext, config: AdapterConfig, date: dt.date) -> None:
            with self._lock:
                self.calls.append((name, date))
                base = 1000 * len(self.calls)
            self.started.set()
            if self.gate is not None:
                assert self.gate.wait(30), "the test never opened the gate"
            if self.fail is not None:
                raise self.fail
            cursor = ctx.cursor() or {"runs": 0}
            for n in range(self.count):
                ctx.emit("subject", RawMessage(make_subject(base + n)))
            ctx.commit({"runs": cursor["runs"] + 1, "last": date.isoformat()})

        return BatchJob(name=name, schedule=self.schedules[name], run=run, summary=f"{name} job")

    schedules: ClassVar[dict[str, str]] = {"daily": "30 1 * * *", "window": "*/5 1-7 * * *"}


def batch_adapter(script: JobScript, system: str, names: tuple[str, ...] = ("daily",)):
    """The test kit adapter (id ``system``) with batch jobs of ``names``."""
    spec = kit_adapter(http_connector(system), system)
    return dataclasses.replace(spec, batch_jobs=tuple(script.job(n) for n in names))


@pytest.fixture
def script() -> JobScript:
    return JobScript()


@pytest.fixture
def system() -> str:
    """The test system's id: its own queues in each test."""
    return f"bkit{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with SinkServer() as server:
        yield server


@pytest.fixture
def registry(script: JobScript, system: str) -> Registry:
    return Registry([batch_adapter(script, system)])


@pytest.fixture
def project(tmp_path: Path, registry: Registry, system: str) -> Project:
    root = write_kit_project(tmp_path / "config", f"{system}-route", system)
    loaded = load_project(root, registry)
    assert loaded.issues == []
    return loaded


@pytest.fixture
def settings(tmp_path: Path, sink: SinkServer, system: str) -> Settings:
    """Embedded bus and SQLite store, the test system connected, no Airflow."""
    return Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={system: {"endpoint": sink.url}},
    )


@pytest.fixture
def services(project: Project, settings: Settings) -> Iterator[Services]:
    opened = Services.open(project, settings)
    yield opened
    opened.close()


def transient(text: str = "manifest not there yet") -> TransientError:
    """A failure a job raises while its data is not ready."""
    return TransientError(text, code="PENDING")
