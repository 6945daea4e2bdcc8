"""A loopback 12345 platform for the integration tests: one server per module, a fresh platform
state and rate-limit gate per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from adapters._simulators.http import HttpSimulator
from adapters._transports.ratelimit import GatedConnection
from adapters.hotline_12345.simulator import Hotline12345Platform
from adapters.hotline_12345.transport import RateGate, open_transport
from tests.adapters.hotline_12345.samples import config
from tests.adapters.loopback import FakeClock, SwappableServer


@dataclass
class Live:
    """The platform behind the server, the server, a gated connection to it and the gate's clock."""

    platform: Hotline12345Platform
    simulator: HttpSimulator
    connection: GatedConnection
    gate: RateGate
    clock: FakeClock

    def requests(self) -> int:
        return len(self.simulator.requests)


@pytest.fixture(scope="module")
def server() -> Iterator[SwappableServer[Hotline12345Platform]]:
    with SwappableServer[Hotline12345Platform]() as server:
        yield server


@pytest.fixture
def live(server: SwappableServer[Hotline12345Platform]) -> Iterator[Live]:
    clock = FakeClock()
    platform = server.behind(Hotline12345Platform(first_seq=880_412))
    gate = RateGate(clock=clock)
    connection = open_transport(config(server.url), gate)
    try:
        yield Live(platform, server.simulator, connection, gate, clock)
    finally:
        connection.close()
