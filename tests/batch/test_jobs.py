"""The job registry, schedules in Asia/Shanghai and the data date of a run."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from runner.adapter_api import BatchJob
from runner.batch import data_date, find_job, job_registry
from runner.errors import ConfigError
from runner.registry import Registry
from schemas.timeutil import SHANGHAI
from tests.batch.conftest import JobScript, batch_adapter


def _registry(script: JobScript) -> Registry:
    return Registry(
        [
            batch_adapter(script, "alpha", ("daily", "window")),
            batch_adapter(script, "beta", ("daily",)),
        ]
    )


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_jobs_are_named_system_dot_name_and_only_connected_systems_count(script: JobScript):
    jobs = job_registry(_registry(script), connected=["alpha", "not_installed"])
    assert sorted(jobs) == ["alpha.daily", "alpha.window"]
    assert jobs["alpha.window"].schedule == "*/5 1-7 * * *"
    assert job_registry(_registry(script), connected=[]) == {}


def test_a_job_is_found_by_id_or_by_its_unique_bare_name(script: JobScript):
    jobs = job_registry(_registry(script), connected=["alpha", "beta"])
    assert find_job(jobs, "beta.daily").system == "beta"
    assert find_job(jobs, "window").id == "alpha.window"
    with pytest.raises(ConfigError, match=r"ambiguous: alpha\.daily, beta\.daily"):
        find_job(jobs, "daily")
    with pytest.raises(ConfigError, match=r"did you mean 'alpha\.window'"):
        find_job(jobs, "alpha.windw")


def test_a_bad_cron_line_is_a_config_error_naming_the_job(script: JobScript):
    spec = batch_adapter(script, "gamma")
    broken = dataclasses.replace(
        spec, batch_jobs=(BatchJob("nightly", "61 2 * * *", lambda *_: None, "broken"),)
    )
    with pytest.raises(ConfigError, match=r"gamma\.nightly: '61 2 \* \* \*' is not a cron line"):
        job_registry(Registry([broken]), connected=["gamma"])


@pytest.mark.parametrize(
    ("fired", "expected"),
    [
        pytest.param("2025-05-07T01:30:00+08:00", "2025-05-06", id="the day before, in Shanghai"),
        pytest.param("2025-05-06T17:30:00+00:00", "2025-05-06", id="a UTC time is read in +08:00"),
        pytest.param("2025-01-01T00:00:00+08:00", "2024-12-31", id="across a year"),
    ],
)
def test_a_run_works_on_the_data_date_before_its_fire_time(fired: str, expected: str):
    assert data_date(dt.datetime.fromisoformat(fired)) == dt.date.fromisoformat(expected)


def test_fire_times_follow_the_cron_line_in_shanghai(script: JobScript):
    jobs = job_registry(_registry(script), connected=["alpha"])
    daily, window = jobs["alpha.daily"], jobs["alpha.window"]
    assert daily.last_fire(_at("2025-05-07T01:30:00")) == _at("2025-05-07T01:30:00")
    assert daily.last_fire(_at("2025-05-07T01:29:59")) == _at("2025-05-06T01:30:00")
    assert daily.next_fire(_at("2025-05-07T01:30:00")) == _at("2025-05-08T01:30:00")
    assert window.last_fire(_at("2025-05-07T12:00:00")) == _at("2025-05-07T07:55:00")
    assert daily.fire_for(dt.date(2025, 5, 6)) == _at("2025-05-07T01:30:00")
    assert window.fire_for(dt.date(2025, 5, 6)) == _at("2025-05-07T01:00:00")
