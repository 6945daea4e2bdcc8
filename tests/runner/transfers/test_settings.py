"""The ``transfers:`` settings key: the day count and the deadline watcher's interval reach the
transfer core the runtime builds; wrong values are refused with the key and the reason; the
documented example is valid."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.engine.services import Services
from runner.errors import ConfigError
from runner.project import REPO_ROOT, load_project
from runner.settings import Settings, load_settings
from runner.transfers import DEADLINES, ClockPolicy
from runner.transfers._settings import TransferSettings
from runner.transfers.worker import TransferLoops
from schemas.timeutil import SHANGHAI

DOC = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
# a report on Friday 2025-09-26: 3 days of approval_decision
FRIDAY = dt.datetime(2025, 9, 26, 15, 20, tzinfo=SHANGHAI)


def _settings(tmp_path: Path, transfers: Any) -> Path:
    path = tmp_path / "ebus.yaml"
    data = {
        "bus": f"sqlite:///{tmp_path}/broker.db",
        "store": f"sqlite:///{tmp_path}/store.db",
        "transfers": transfers,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _due(settings: TransferSettings, at: dt.datetime = FRIDAY) -> dt.date:
    due = ClockPolicy.of(settings).due_at(DEADLINES["approval_decision"], at)
    assert due is not None
    return due.date()


def test_the_defaults_are_calendar_days_and_a_30_second_watch():
    settings = Settings().transfers
    assert (settings.day_count, settings.watch_interval_s) == ("calendar", 30.0)
    assert _due(settings) == dt.date(2025, 9, 29)  # Monday: Sat, Sun, Mon counted


def test_working_days_skip_weekends_and_holidays_and_count_extra_workdays():
    working = TransferSettings(day_count="working")
    assert _due(working) == dt.date(2025, 10, 1)  # Mon, Tue, Wed
    national_day = TransferSettings(
        day_count="working",
        holidays=[dt.date(2025, 10, 1), dt.date(2025, 9, 30)],
        extra_workdays=[dt.date(2025, 9, 28)],  # a Sunday worked
    )
    assert _due(national_day) == dt.date(2025, 10, 2)  # Sun 28, Mon 29, Thu 2


@pytest.mark.parametrize(
    ("transfers", "message"),
    [
        ({"day_count": "fortnight"}, "transfers.day_count"),
        ({"day_count": "fortnight"}, "'calendar' or 'working'"),
        ({"holidays": ["2025-10-01"]}, "only used with day_count: working"),
        (
            {"day_count": "working", "holidays": ["2025-10-01"], "extra_workdays": ["2025-10-01"]},
            "2025-10-01 is both a holiday and an extra workday",
        ),
        ({"day_count": "working", "holidays": ["2025-10-04"]}, "2025-10-04 is a weekend day"),
        ({"day_count": "working", "extra_workdays": ["2025-10-09"]}, "2025-10-09 is a weekday"),
        ({"day_count": "working", "holidays": ["1st of October"]}, "transfers.holidays"),
        ({"watch_interval_s": 0}, "transfers.watch_interval_s"),
        ({"watch_interval_s": "soon"}, "'soon' is not a duration"),
        ({"watch_interval_s": "2h"}, "less than or equal to 3600"),
        ({"watch_every": 60}, "transfers.watch_every"),
    ],
)
def test_a_wrong_value_is_refused_with_its_key_and_reason(
    tmp_path: Path, transfers: dict[str, Any], message: str
):
    with pytest.raises(ConfigError) as refused:
        load_settings(_settings(tmp_path, transfers))
    assert message in str(refused.value)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    path = _settings(tmp_path, {"day_count": "working", "watch_interval_s": "1m"})
    opened = Services.open(load_project(), load_settings(path))
    yield opened
    opened.close()


def test_the_runtimes_transfer_loops_take_the_settings(services: Services):
    loops = TransferLoops.open(services)
    assert loops.watch_every_s == 60.0
    assert loops.service.policy == ClockPolicy(days="working")


def test_the_documented_example_is_valid_and_documents_every_key():
    start = DOC.index("## Transfers")
    section = DOC[start : DOC.index("\n## ", start + 1)]
    block = re.search(r"```yaml\n(transfers:.*?)```", section, re.S)
    assert block is not None
    example = yaml.safe_load(block[1])
    settings = Settings.model_validate(example).transfers
    assert settings.day_count == "working"
    assert settings.watch_interval_s == 60.0
    assert set(TransferSettings.model_fields) <= set(example["transfers"])
    for key in TransferSettings.model_fields:
        assert f"| `{key}` |" in section  # meaning and default in the table
