"""The shared rate gate: a closed key sends nothing until its wait is over, whatever connection
uses it; a key is kept only as a digest. (Pacing is ``tests/adapters/test_pacing.py``.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters._transports.ratelimit import GatedConnection, RateGate, retry_after_s
from runner.adapter_api import Outgoing, RawMessage, TransientError
from runner.stores import Database
from runner.stores.gates import SharedGateStore

CALL = Outgoing(b"{}", {}, "POST", "/x")


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Peer:
    """A transport that answers every call with ``status`` and counts the calls."""

    def __init__(self, status: str = "200", retry_after: str | None = None) -> None:
        self.status, self.retry_after, self.calls, self.closed = status, retry_after, 0, False

    def send(self, call: Outgoing) -> RawMessage:
        self.calls += 1
        headers = {"retry-after": self.retry_after} if self.retry_after else {}
        return RawMessage(b"{}", headers, {"status": self.status})

    def close(self) -> None:
        self.closed = True


def _after_429(answer: RawMessage) -> float | None:
    if answer.meta.get("status") != "429":
        return None
    return retry_after_s(answer.headers.get("retry-after"), default=5, maximum=120)


def _connection(peer: Peer, gate: RateGate, secret: str = "key-1", **kw: Any) -> GatedConnection:
    return GatedConnection("peer", secret, peer, pause=_after_429, code="429", gate=gate, **kw)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("30", 30), (" 7 ", 7), (None, 5), ("0", 5), ("121", 5), ("Wed, 21 Oct 2015 07:28:00 GMT", 5)],
)
def test_retry_after_is_taken_within_its_bounds_else_the_default(header, seconds):
    assert retry_after_s(header, default=5, maximum=120) == seconds


def test_after_a_429_no_connection_with_that_key_calls_until_the_wait_is_over():
    clock = Clock()
    gate = RateGate(clock)
    limited, other = Peer("429", "30"), Peer()
    _connection(limited, gate).send(CALL)
    with pytest.raises(TransientError) as caught:
        _connection(other, gate).send(CALL)  # another connection, same key
    assert (caught.value.code, caught.value.retry_after) == ("429", 30.0)
    assert other.calls == 0
    _connection(other, gate, secret="key-2").send(CALL)  # another key is not held back
    clock.now += 30
    _connection(other, gate).send(CALL)
    assert other.calls == 2


def test_the_same_secret_of_two_systems_is_two_keys_and_never_kept_in_clear():
    gate = RateGate(Clock())
    connection = _connection(Peer("429"), gate, secret="s3cret")
    connection.send(CALL)
    other_system = GatedConnection("other", "s3cret", Peer(), pause=_after_429, code="x", gate=gate)
    other_system.send(CALL)
    assert "s3cret" not in repr(vars(connection)) + repr(vars(gate))


def test_close_closes_the_transport():
    peer = Peer()
    _connection(peer, RateGate()).close()
    assert peer.closed


# --- the other processes of the bus (a shared GateStore) ---------------------------------------

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def gates(tmp_path: Path) -> Iterator[SharedGateStore]:
    with Database.open(f"sqlite:///{tmp_path}/store.db") as db:
        yield SharedGateStore(db)


def test_a_wait_one_process_learns_holds_the_key_back_in_every_process(gates):
    wall = [NOW]
    limited, other = Peer("429", "30"), Peer()
    first = _connection(limited, RateGate(Clock()), shared=gates, wall_clock=lambda: wall[0])
    second = _connection(other, RateGate(Clock()), shared=gates, wall_clock=lambda: wall[0])
    first.send(CALL)  # 429, Retry-After: 30
    with pytest.raises(TransientError) as caught:
        second.send(CALL)  # its own gate is open: the store holds it back
    assert (caught.value.code, caught.value.retry_after) == ("429", 30.0)
    assert other.calls == 0
    wall[0] = NOW + dt.timedelta(seconds=30)
    second.send(CALL)
    assert other.calls == 1


def test_without_the_store_another_process_calls_into_the_wait(gates):
    limited, other = Peer("429", "30"), Peer()
    _connection(limited, RateGate(Clock())).send(CALL)
    _connection(other, RateGate(Clock())).send(CALL)  # what risks 12345's 10-minute lock-out
    assert other.calls == 1


def test_the_store_keeps_only_a_digest_of_the_key(tmp_path: Path):
    with Database.open(f"sqlite:///{tmp_path}/store.db") as db:
        gates = SharedGateStore(db)
        connection = _connection(
            Peer("429", "30"), RateGate(Clock()), secret="key-secret", shared=gates
        )
        connection.send(CALL)
        with db.read() as conn:
            rows = [tuple(row) for row in conn.exec_driver_sql("SELECT * FROM ebus_rate_gates")]
    assert len(rows) == 1  # the wait was stored …
    assert "key-secret" not in repr(rows)  # … under a digest
    files = b"".join(path.read_bytes() for path in tmp_path.glob("store.db*"))
    assert b"key-secret" not in files


def test_a_wait_the_store_cannot_keep_still_returns_the_answer_and_holds_the_key_here(gates):
    class Down:
        def closed_until(self, key: str) -> None:
            return None

        def hold(self, key: str, until: dt.datetime) -> None:
            raise TransientError("store down", code="STORE")

    gate, limited = RateGate(Clock()), Peer("429", "30")
    with capture_logs() as logs:
        answer = _connection(limited, gate, shared=Down()).send(CALL)
    assert answer.meta["status"] == "429"  # the mapping still sees the refusal
    assert gate.wait_s(_connection(Peer(), gate)._key) == 30.0
    assert [e["event"] for e in logs] == ["a rate limit wait could not be shared"]
