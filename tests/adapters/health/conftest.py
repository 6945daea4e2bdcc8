"""A loopback 卫健委 API for the integration tests: one server per module, a fresh API state,
rate-limit gate and connection per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters._simulators.http import HttpSimulator
from adapters._transports.ratelimit import GatedConnection
from adapters.health import HealthConfig
from adapters.health.simulator import HealthApi
from adapters.health.transport import RateGate, open_transport
from tests.adapters.health.samples import config
from tests.adapters.loopback import FakeClock, SwappableServer


@dataclass
class Live:
    """The API behind the server, the server, a gated connection to it and the gate's clock."""

    api: HealthApi
    simulator: HttpSimulator
    connection: GatedConnection
    gate: RateGate
    clock: FakeClock

    def settings(self, **changes: Any) -> HealthConfig:
        """The config of this server (fast pacing unless the test sets its own)."""
        return config(self.simulator.url, **({"rate_limit": None} | changes))

    def requests(self) -> int:
        """How many requests reached the server."""
        return len(self.simulator.requests)


@pytest.fixture(scope="module")
def server() -> Iterator[SwappableServer[HealthApi]]:
    with SwappableServer[HealthApi]() as server:
        yield server


@pytest.fixture
def live(server: SwappableServer[HealthApi]) -> Iterator[Live]:
    clock = FakeClock()
    api = server.behind(HealthApi(per_second=1000))
    gate = RateGate(clock=clock)
    connection = open_transport(config(server.url, rate_limit=None), gate)
    try:
        yield Live(api, server.simulator, connection, gate, clock)
    finally:
        connection.close()
