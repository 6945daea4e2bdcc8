"""A loopback 12345 platform for the integration tests: one server per module, a fresh platform
state and rate-limit gate per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from adapters._simulators.http import HttpSimulator, Request, Response
from adapters._transports.ratelimit import GatedConnection
from adapters.hotline_12345.simulator import Hotline12345Platform
from adapters.hotline_12345.transport import RateGate, open_transport
from tests.adapters.hotline_12345.samples import config


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
def server() -> Iterator[tuple[HttpSimulator, list[Hotline12345Platform]]]:
    current: list[Hotline12345Platform] = []

    def dispatch(request: Request) -> Response:
        return current[-1].handle(request)

    with HttpSimulator(dispatch) as simulator:
        yield simulator, current


@pytest.fixture
def live(server: tuple[HttpSimulator, list[Hotline12345Platform]]) -> Iterator[Live]:
    simulator, current = server
    clock = FakeClock()
    platform = Hotline12345Platform(first_seq=880_412)
    current.append(platform)
    simulator.requests.clear()
    gate = RateGate(clock=clock)
    connection = open_transport(config(simulator.url), gate)
    try:
        yield Live(platform, simulator, connection, gate, clock)
    finally:
        connection.close()
        simulator._faults.clear()
