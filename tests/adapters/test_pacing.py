"""The shared pacer: token buckets keep every window of a documented limit under it, a
concurrency cap holds further calls back, and one pacer serves each system and account.

Deterministic: the clock is the test's and ``sleep`` moves it.
"""

from __future__ import annotations

import importlib
import random
import re
import threading
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from structlog.testing import capture_logs

from adapters._transports.pacing import (
    PacedConnection,
    Pacer,
    PacerRegistry,
    RateLimit,
    paced,
    share_of,
)
from runner.adapter_api import (
    Outgoing,
    RawMessage,
    TransientError,
    processes_sharing_limits,
    share_limits_among,
)

CALL = Outgoing(b"{}", {}, "POST", "/x")


class Clock:
    """A monotonic clock the test moves; ``sleep`` moves it too."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Peer:
    """A transport that records when each call arrived (on ``clock``)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock, self.arrivals, self.closed = clock, [], False

    def send(self, call: Outgoing) -> RawMessage:
        self.arrivals.append(self.clock() if self.clock else 0.0)
        return RawMessage(b"{}", {}, {"status": "200"})

    def close(self) -> None:
        self.closed = True


def _most_in_any_window(times: list[float], window_s: float) -> int:
    """The most calls in any closed window of ``window_s`` (what a strict peer counts)."""
    times = sorted(times)
    return max(
        sum(1 for other in times[i:] if other - start <= window_s) for i, start in enumerate(times)
    )


def test_a_rate_limit_needs_a_window_and_knows_its_keys():
    with pytest.raises(ValidationError):
        RateLimit()
    with pytest.raises(ValidationError):
        RateLimit.model_validate({"per_second": 5})
    with pytest.raises(ValidationError):
        RateLimit(per_s=0)
    limit = RateLimit.model_validate({"per_min": 600, "per_s": 20})
    assert limit.windows() == [(20, 1.0), (600, 60.0)]


def test_calls_are_spaced_evenly_with_a_ten_percent_margin():
    clock = Clock()
    pacer = Pacer(RateLimit(per_s=5), clock=clock)
    assert [pacer.reserve() for _ in range(4)] == pytest.approx([0.0, 0.22, 0.44, 0.66])


def test_an_idle_pacer_lets_the_next_call_go_at_once():
    clock = Clock()
    pacer = Pacer(RateLimit(per_s=5), clock=clock)
    pacer.reserve()
    clock.now += 0.5
    assert pacer.reserve() == 0.0
    clock.now += 0.1
    assert pacer.reserve() == pytest.approx(0.12)


def test_a_burst_goes_at_once_then_the_calls_are_spaced():
    clock = Clock()
    pacer = Pacer(RateLimit(per_min=60, burst=10), clock=clock)
    waits = [pacer.reserve() for _ in range(12)]
    assert waits[:10] == pytest.approx([0.0] * 10)
    interval = 66 / 51  # 60 × 1.1 s over the 51 tokens a minute that leave room for the burst
    assert waits[10:] == pytest.approx([interval, 2 * interval])


def test_with_two_limits_a_call_waits_for_both():
    clock = Clock()
    pacer = Pacer(RateLimit(per_s=20, per_min=600), clock=clock)
    waits = [pacer.reserve() for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.11, 0.22])  # the minute's bucket is the slower one


@pytest.mark.parametrize(
    ("limit", "calls", "window_s"),
    [
        (RateLimit(per_s=5), 5, 1.0),
        (RateLimit(per_s=20, burst=5), 20, 1.0),
        (RateLimit(per_min=60, burst=10), 60, 60.0),
        (RateLimit(per_min=600, per_s=20), 600, 60.0),
        (RateLimit(per_min=600, per_s=20, burst=20), 20, 1.0),
    ],
    ids=["5/s", "20/s burst 5", "60/min burst 10", "600/min (minute)", "600/min+20/s (second)"],
)
def test_no_window_of_the_limit_ever_holds_more_calls_than_it_allows(limit, calls, window_s):
    clock, rng = Clock(), random.Random(7)
    connection = PacedConnection(peer := Peer(clock), Pacer(limit, clock=clock), clock.sleep)
    for _ in range(1500):
        if rng.random() < 0.1:  # callers fall idle now and then, so the bucket refills
            clock.now += rng.uniform(0, window_s)
        connection.send(CALL)
    assert _most_in_any_window(peer.arrivals, window_s) <= calls
    pacing = PacedConnection(peer := Peer(clock), Pacer(limit, clock=clock), clock.sleep)
    for _ in range(3 * calls):  # a burst far above the limit, back to back
        pacing.send(CALL)
    assert _most_in_any_window(peer.arrivals, window_s) <= calls


def test_the_connection_sleeps_the_wait_before_it_sends():
    clock = Clock()
    peer = Peer(clock)
    connection = PacedConnection(peer, Pacer(RateLimit(per_s=5), clock=clock), clock.sleep)
    connection.send(CALL)
    connection.send(CALL)
    assert clock.slept == pytest.approx([0.22])
    assert peer.arrivals == pytest.approx([100.0, 100.22])


class Blocking:
    """A transport whose calls stay in flight until the test releases them."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Semaphore(0)
        self.in_flight = self.most = 0
        self._lock = threading.Lock()

    def send(self, call: Outgoing) -> RawMessage:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        self.entered.release()
        self.release.acquire()
        with self._lock:
            self.in_flight -= 1
        return RawMessage(b"", {}, {"status": "200"})

    def close(self) -> None:
        """Nothing to release."""


def test_the_concurrency_cap_holds_a_third_call_until_one_is_answered():
    peer = Blocking()
    connection = PacedConnection(peer, Pacer(None, max_concurrent=2))
    threads = [threading.Thread(target=connection.send, args=(CALL,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert peer.entered.acquire(timeout=5)
    assert peer.entered.acquire(timeout=5)
    assert not peer.entered.acquire(timeout=0.2)  # the third waits for a slot
    peer.release.release()
    assert peer.entered.acquire(timeout=5)
    peer.release.release(2)
    for thread in threads:
        thread.join(timeout=5)
    assert peer.most == 2


def test_a_failed_call_frees_its_slot():
    class Failing(Peer):
        def send(self, call: Outgoing) -> RawMessage:
            raise TransientError("down", code="CONNECTION")

    connection = PacedConnection(Failing(), Pacer(None, max_concurrent=1))
    for _ in range(2):  # the second would block forever if the first kept its slot
        with pytest.raises(TransientError):
            connection.send(CALL)


def test_connections_of_one_account_share_the_pacer_and_others_do_not():
    clock = Clock()
    registry = PacerRegistry(clock)
    limit = RateLimit(per_s=5)

    def connect(system: str, account: str) -> PacedConnection:
        connection = paced(
            system, account, Peer(clock), limit, registry=registry, sleep=clock.sleep
        )
        assert isinstance(connection, PacedConnection)
        return connection

    first, second = connect("credit_fj", "app-1"), connect("credit_fj", "app-1")
    assert first.pacer is second.pacer
    first.send(CALL)
    second.send(CALL)  # the poller's call after a worker's: spaced
    assert clock.slept == pytest.approx([0.22])
    connect("credit_fj", "app-2").send(CALL)
    connect("health", "app-1").send(CALL)
    assert clock.slept == pytest.approx([0.22])
    assert "app-1" not in repr(vars(registry))


def test_changed_settings_give_the_account_a_new_pacer():
    registry = PacerRegistry()
    old = registry.pacer("two_laws", "MZF_ESB", RateLimit(per_s=20), None)
    assert registry.pacer("two_laws", "MZF_ESB", RateLimit(per_s=20), None) is old
    new = registry.pacer("two_laws", "MZF_ESB", RateLimit(per_s=10), None)
    assert new is not old
    assert new.rate_limit == RateLimit(per_s=10)


def test_without_limits_the_transport_is_returned_unchanged_and_close_reaches_it():
    peer = Peer()
    assert paced("x", "a", peer, None, None) is peer
    connection = paced("x", "a", peer, RateLimit(per_s=5), registry=PacerRegistry())
    connection.close()
    assert peer.closed


def test_the_pacing_table_of_the_configuration_reference_gives_the_models_defaults():
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    start = doc.index("### Pacing")
    rows = re.findall(r"^\| (\w+) \| `(\w+)` \| `([^`]+)` per ", doc[start:], re.M)
    assert len(rows) == 10
    for system, key, default in rows:
        model = importlib.import_module(f"adapters.{system}").SPEC.config
        documented = yaml.safe_load(default)
        expected = RateLimit.model_validate(documented) if key == "rate_limit" else documented
        assert model.model_fields[key].default == expected, system


# --- limits shared by the processes of `ebus run --processes N` -------------------------------


@pytest.mark.parametrize(
    ("limit", "cap", "processes", "share", "share_cap"),
    [
        (RateLimit(per_s=5), 2, 1, RateLimit(per_s=5), 2),
        (RateLimit(per_s=5), 2, 2, RateLimit(per_s=2), 1),  # whole calls: 2.5 lets 3 through
        (
            RateLimit(per_min=600, per_s=20, burst=4),
            5,
            2,
            RateLimit(per_min=300, per_s=10, burst=2),
            2,
        ),
        (RateLimit(per_min=60, burst=3), None, 4, RateLimit(per_min=15, burst=1), None),
        (None, 1, 3, None, 1),
        (RateLimit(per_s=0.5), None, 2, RateLimit(per_s=0.25), None),  # never above the limit
    ],
)
def test_each_process_keeps_its_share_of_the_limits(limit, cap, processes, share, share_cap):
    assert share_of(limit, cap, processes) == (share, share_cap)


def test_two_processes_sharing_an_account_stay_under_its_limit_together():
    clock = Clock()
    peer = Peer(clock)  # the system, counting every call of both processes
    connections = [
        paced(
            "credit_fj",
            "app-1",
            peer,
            RateLimit(per_s=5, burst=2),
            registry=PacerRegistry(clock, processes=lambda: 2),  # each process has its own
            sleep=clock.sleep,
        )
        for _ in range(2)
    ]
    rng = random.Random(7)
    for _ in range(60):  # the two processes' calls, interleaved as they come
        rng.choice(connections).send(CALL)
    assert _most_in_any_window(peer.arrivals, 1.0) <= 5


@pytest.mark.parametrize(("limit", "cap"), [(None, 2), (RateLimit(per_s=2), None)])
def test_a_limit_smaller_than_the_processes_is_split_or_kept_at_one_and_logged(limit, cap):
    with capture_logs() as logs:
        pacer = PacerRegistry(processes=lambda: 3).pacer("eco_env", "account-7", limit, cap)
    assert pacer.max_concurrent == (1 if cap else None)
    assert pacer.rate_limit == (RateLimit(per_s=2 / 3) if limit else None)
    (entry,) = [e for e in logs if e["event"].startswith("a limit smaller than")]
    assert entry["system"] == "eco_env"
    assert entry["processes"] == 3
    assert "account-7" not in repr(entry)  # the account is never logged


def test_a_new_share_gives_the_account_a_new_pacer():
    processes = [1]
    registry = PacerRegistry(processes=lambda: processes[0])
    alone = registry.pacer("two_laws", "MZF_ESB", RateLimit(per_s=20), None)
    assert registry.pacer("two_laws", "MZF_ESB", RateLimit(per_s=20), None) is alone
    processes[0] = 2
    shared = registry.pacer("two_laws", "MZF_ESB", RateLimit(per_s=20), None)
    assert shared is not alone
    assert shared.rate_limit == RateLimit(per_s=10)


def test_the_process_wide_share_is_what_ebus_run_declares():
    assert processes_sharing_limits() == 1
    try:
        share_limits_among(2)
        assert PacerRegistry().pacer("x", "a", RateLimit(per_s=4), None).rate_limit == RateLimit(
            per_s=2
        )
    finally:
        share_limits_among(1)
    with pytest.raises(ValueError, match="at least 1"):
        share_limits_among(0)
