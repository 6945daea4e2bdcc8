"""Fixtures: a settable clock shared by the simulator and the jobs, the simulator, a config."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from adapters.culture_tourism_national import CultureTourismConfig, open_transport
from adapters.culture_tourism_national._wire import CultureConnection
from adapters.culture_tourism_national.simulator import CultureTourismSimulator
from tests.adapters.culture_tourism_national._support import at, config


class Clock:
    """A settable clock: the ministry's server time and the job's ``now``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on."""
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2024, 3, 6, 1, 30, 0))


@pytest.fixture
def simulator(clock: Clock) -> Iterator[CultureTourismSimulator]:
    with CultureTourismSimulator(clock=clock) as sim:
        yield sim


@pytest.fixture
def settings(simulator: CultureTourismSimulator) -> CultureTourismConfig:
    return config(simulator.endpoint)


@pytest.fixture
def connection(settings: CultureTourismConfig) -> Iterator[CultureConnection]:
    link = open_transport(settings)
    yield link
    link.close()
