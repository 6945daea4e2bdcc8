"""Poll windows (README §3.2): previous end − overlap .. now − 1 minute, at most 7 days each."""

from __future__ import annotations

import datetime as dt

from adapters.eco_env import SPEC, EcoEnvConfig, windows
from tests.adapters.eco_env._support import at


def _config(**overrides: object) -> EcoEnvConfig:
    return EcoEnvConfig.model_validate({**SPEC.demo_config, **overrides})


def test_a_window_starts_five_minutes_before_the_last_end_and_ends_a_minute_before_now():
    spans = windows({"end": "2025-03-21T17:40:00+08:00"}, at(2025, 3, 21, 18, 0, 0), _config())
    assert spans == [(at(2025, 3, 21, 17, 35, 0), at(2025, 3, 21, 17, 59, 0))]


def test_the_first_window_starts_at_the_configured_start():
    config = _config(initial_start="2025-03-20T08:00:00")
    spans = windows(None, at(2025, 3, 21, 18, 0, 0), config)
    assert spans == [(at(2025, 3, 20, 8, 0, 0), at(2025, 3, 21, 17, 59, 0))]


def test_without_a_configured_start_the_first_window_spans_one_interval_and_the_overlap():
    spans = windows(None, at(2025, 3, 21, 18, 0, 0), _config())
    assert spans == [(at(2025, 3, 21, 17, 44, 0), at(2025, 3, 21, 17, 59, 0))]


def test_a_window_longer_than_seven_days_is_split_into_spans_sharing_their_ends():
    config = _config(initial_start="2025-03-01T00:00:00+08:00")
    spans = windows(None, at(2025, 3, 21, 0, 1, 0), config)
    assert spans == [
        (at(2025, 3, 1), at(2025, 3, 8)),
        (at(2025, 3, 8), at(2025, 3, 15)),
        (at(2025, 3, 15), at(2025, 3, 21)),
    ]
    assert all(end - start <= dt.timedelta(days=7) for start, end in spans)


def test_a_clock_that_has_not_moved_past_the_start_gives_no_window():
    assert windows({"end": "2025-03-21T17:59:00+08:00"}, at(2025, 3, 21, 17, 55), _config()) == []


def test_times_in_another_zone_are_read_as_beijing_time_to_the_second():
    now = dt.datetime(2025, 3, 21, 10, 0, 0, 123456, tzinfo=dt.UTC)
    spans = windows({"end": "2025-03-21T09:40:00+00:00"}, now, _config())
    assert spans == [(at(2025, 3, 21, 17, 35, 0), at(2025, 3, 21, 17, 59, 0))]
