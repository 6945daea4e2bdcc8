"""Fixtures: a clock shared by the simulator and the poller, the simulator, config, transport."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters._simulators.polling import RecordingPollContext
from adapters._transports.http import HttpTransport
from adapters.drug_admin import DrugAdminConfig, open_transport
from adapters.drug_admin.simulator import DrugAdminSimulator
from tests.adapters.drug_admin._support import Clock, at, make_config


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2024, 3, 7, 18, 0, 0))


@pytest.fixture
def simulator(clock: Clock) -> Iterator[DrugAdminSimulator]:
    with DrugAdminSimulator(clock=clock, min_interval_s=0) as sim:
        yield sim  # type: ignore[misc]


@pytest.fixture
def config(simulator: DrugAdminSimulator) -> DrugAdminConfig:
    return make_config(simulator, initial_since="2024-03-05T00:00:00")


@pytest.fixture
def transport(config: DrugAdminConfig) -> Iterator[HttpTransport]:
    connection = open_transport(config)
    yield connection
    connection.close()


@pytest.fixture
def context(transport: HttpTransport, clock: Clock) -> RecordingPollContext:
    """A poll context whose calls reach the simulator; ``now`` is the clock's time."""
    return RecordingPollContext(transport.send, now=clock.now)
