"""Fixtures: a clock shared by the simulator and the poller, the simulator, config, transport."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from adapters._simulators.polling import RecordingPollContext
from adapters.eco_env import EcoEnvConfig, open_transport
from adapters.eco_env.simulator import SECRET_KEY, USER_NAME, EcoEnvSimulator
from runner.adapter_api import Connection
from tests.adapters.eco_env._support import at


class Clock:
    """A settable clock: the simulator's server time and the poller's ``now``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2025, 6, 3, 17, 0, 0))


@pytest.fixture
def simulator(clock: Clock) -> Iterator[EcoEnvSimulator]:
    with EcoEnvSimulator(clock=clock) as sim:
        yield sim  # type: ignore[misc]


@pytest.fixture
def config(simulator: EcoEnvSimulator) -> EcoEnvConfig:
    return make_config(simulator)


def make_config(simulator: EcoEnvSimulator, **overrides: object) -> EcoEnvConfig:
    """A config pointing at ``simulator`` with the test account."""
    values: dict[str, object] = {
        "endpoint": simulator.endpoint,
        "user_name": USER_NAME,
        "secret_key": SECRET_KEY,
    }
    values.update(overrides)
    return EcoEnvConfig.model_validate(values)


@pytest.fixture
def transport(config: EcoEnvConfig) -> Iterator[Connection]:
    connection = open_transport(config)
    yield connection
    connection.close()


@pytest.fixture
def context(transport: Connection, clock: Clock) -> RecordingPollContext:
    """A poll context whose calls reach the simulator; ``now`` follows the clock's start."""
    return RecordingPollContext(transport.send, now=clock.now)
