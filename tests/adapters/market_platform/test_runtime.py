"""The bus end to end on the embedded default: the runtime polls the simulated drop, maps each
task file into planned inspections, dead-letters a bad row and a refused file, archives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.market_platform.simulator import MarketPlatformSimulator, task_row
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import load_project
from runner.settings import Settings
from tests.runner.engine.conftest import wait_for


@pytest.fixture
def platform() -> Iterator[MarketPlatformSimulator]:
    with MarketPlatformSimulator() as simulator:
        yield simulator


@pytest.fixture
def services(tmp_path: Path, platform: MarketPlatformSimulator) -> Iterator[Services]:
    project = load_project()
    assert project.issues == []
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={"market_platform": {"url": platform.url, "poll_interval_s": 0.2}},
    )
    opened = Services.open(project, settings)
    yield opened
    opened.close()


def _mapped(services: Services) -> set[str]:
    table = services.db.metadata.tables["ebus_audit_log"]
    query = select(table.c.message_id).where(
        table.c.kind == "mapped", table.c.system == "market_platform"
    )
    with services.db.read() as conn:
        return {str(row[0]) for row in conn.execute(query)}


def test_task_files_become_planned_inspections_and_bad_ones_dead_letters(
    services: Services, platform: MarketPlatformSimulator
):
    good = platform.drop_task(
        [task_row(1), task_row(2, **{"统一社会信用代码": "91350783MA0000000X"}), task_row(3)]
    )
    refused = platform.drop_task([task_row(4)], marker="bad_md5")
    runtime = Runtime(services)
    runtime.start()
    try:
        wait_for(lambda: len(_mapped(services)) == 2 and len(services.dead_letters.list()) == 2)
        platform.redrop(good)
        wait_for(lambda: len(services.dead_letters.list()) == 3)
    finally:
        runtime.shutdown()
    rules = sorted(letter.rule or "" for letter in services.dead_letters.list())
    assert rules == ["duplicate_file", "md5_mismatch", "uscc_check"]
    assert platform.files("archive/20250408") == [good, f"{good}.ok"]
    assert set(platform.files("error")) == {
        refused,
        f"{refused}.err",
        f"{refused}.ok",
        f"{good}",
        f"{good}.err",
        f"{good}.ok",
    }
    assert services.cursors.get(f"fact:market_platform:file:{good}")["state"] == "archived"
    assert services.audit.verify().ok
