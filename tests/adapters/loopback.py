"""One loopback server per test module with a fresh system state behind it per test.

Starting and stopping an ``HttpSimulator`` costs time (stopping one takes up to half a second),
so a module keeps one ``SwappableServer`` and each test puts a new state behind it::

    @pytest.fixture(scope="module")
    def server() -> Iterator[SwappableServer[HealthApi]]:
        with SwappableServer[HealthApi]() as server:
            yield server

    @pytest.fixture
    def api(server: SwappableServer[HealthApi]) -> HealthApi:
        return server.behind(HealthApi())
"""

from __future__ import annotations

from typing import Generic, Protocol, Self, TypeVar

from adapters._simulators.http import HttpSimulator, Request, Response

__all__ = ["FakeClock", "SwappableServer"]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Handles(Protocol):
    def handle(self, request: Request) -> Response: ...


S = TypeVar("S", bound=_Handles)


class SwappableServer(Generic[S]):
    """An ``HttpSimulator`` (``simulator``) that answers with the state last put ``behind`` it.

    The state's ``handle`` is looked up per request, so a test may replace it on the state.
    """

    def __init__(self) -> None:
        self._state: S | None = None
        self.simulator = HttpSimulator(self._dispatch)

    def _dispatch(self, request: Request) -> Response:
        if self._state is None:
            raise RuntimeError("no system state behind the server: call behind() first")
        return self._state.handle(request)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.simulator.url

    def behind(self, state: S) -> S:
        """Answer with ``state`` from now on, once the requests of the test before are answered
        (a delayed one would land on ``state``); its requests and faults are forgotten."""
        if not self.simulator.wait_idle():
            raise RuntimeError("the test before left a request unanswered for 10 s")
        self._state = state
        self.simulator.requests.clear()
        self.simulator.clear_faults()
        return state

    def __enter__(self) -> Self:
        self.simulator.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.simulator.stop()
