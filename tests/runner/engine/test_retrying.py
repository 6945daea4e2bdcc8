"""The durable delay before a retry: a route's fixed schedule, or exponential with jitter."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runner.engine.retrying import retry_delay
from runner.routes import RetryPolicy


def test_a_schedule_gives_its_delays_in_order_then_max_delay():
    # fire_national README 2.6: 1, 5, 15 min, then hourly for 24 h
    policy = RetryPolicy.model_validate(
        {"attempts": 28, "schedule": ["1m", "5m", "15m"], "max_delay": "1h"}
    )
    delays = [retry_delay(policy, tries) for tries in range(1, policy.attempts)]
    assert delays[:3] == [60.0, 300.0, 900.0]
    assert delays[3:] == [3600.0] * 24
    assert sum(delays[3:]) == 24 * 3600


def test_without_a_schedule_the_delay_doubles_with_jitter_up_to_max_delay():
    policy = RetryPolicy.model_validate({"initial": "2s", "max_delay": "10s"})
    for tries, base in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        delays = {retry_delay(policy, tries) for _ in range(50)}
        assert all(base / 2 <= d <= base for d in delays), (tries, sorted(delays))
        assert len(delays) > 1  # jittered


def test_a_schedule_entry_must_be_a_duration():
    with pytest.raises(ValidationError, match="not a duration"):
        RetryPolicy.model_validate({"schedule": ["1m", "soon"]})
