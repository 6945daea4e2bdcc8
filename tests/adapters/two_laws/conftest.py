"""Fixtures: a clock shared by the simulator and the adapter, the simulator, its config."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from adapters.two_laws import TwoLawsConfig
from adapters.two_laws.simulator import PASSWORD, USER_NAME, TwoLawsSimulator
from tests.adapters.two_laws._support import at


class Clock:
    """A settable clock: the simulator's server time and the adapter's ``now``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2024, 3, 15, 8, 0, 0))


@pytest.fixture
def simulator(clock: Clock) -> Iterator[TwoLawsSimulator]:
    with TwoLawsSimulator(clock=clock) as sim:
        yield sim  # type: ignore[misc]


def make_config(simulator: TwoLawsSimulator, **overrides: object) -> TwoLawsConfig:
    """A config pointing at ``simulator`` with the test account of README §2.2."""
    values: dict[str, object] = {
        "endpoint": simulator.endpoint,
        "user_name": USER_NAME,
        "password": PASSWORD,
        "org_codes": ["11350200MB1C034749", "11350500MB0P661250"],
    }
    return TwoLawsConfig.model_validate(values | overrides)
