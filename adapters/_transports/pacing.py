"""Client-side pacing: keep a system's documented rate and concurrency limits before it refuses.

Most systems state a limit per account (``5 requests/s per app key``, ``600 requests per minute
and 20 in any second``, ``2 concurrent requests per account``) and refuse beyond it (429, 503,
a SOAP Fault). An adapter declares its numbers as two config keys, with the spec's limit as the
default, and wraps its transport in ``paced``; nothing else is adapter code:

- ``rate_limit`` (``RateLimit``): ``{per_s: 5}``, ``{per_min: 60}`` or both
  (``{per_min: 600, per_s: 20}``), optionally ``burst`` (calls sent back to back before the
  pacing starts, default 1: evenly spaced). ``null`` switches pacing off.
- ``max_concurrent``: calls in flight at once (``2``); ``null`` for no cap.

A limit of N calls per W seconds is a token bucket of ``burst`` tokens refilled at
(N − burst + 1) / (W × 1.1) tokens a second: in any window of W seconds at most N calls leave,
and the 10 % margin absorbs network jitter (the peer counts arrivals, which jitter bunches
together). A call waits (sleeps) for its token; with several limits it waits for all of them.

One ``Pacer`` serves each (system, account) in the process (``PACERS``): the poller, the
delivery workers and the lookups of a system share it, whatever connection they use. Accounts
are kept only as SHA-256 digests. Across processes: the N children of ``ebus run --processes
N`` each pace at 1/N of every limit (``processes_sharing_limits``, ``share_of``): rates
rounded down to whole calls, or split evenly when there are fewer calls than processes; bursts
and caps of calls in flight never below one each (a cap smaller than N is exceeded, and logged).
Separate ``ebus run`` commands for one account (on two machines) know nothing of each other:
configure each with its share::

    class MyConfig(AdapterConfig):
        rate_limit: RateLimit | None = RateLimit(per_s=5)
        max_concurrent: int | None = Field(None, ge=1)

    def connect(config):
        transport = HttpTransport("my_system", str(config.endpoint))
        return paced("my_system", config.app_key, transport, config.rate_limit,
                     config.max_concurrent)
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runner.adapter_api import Connection, Outgoing, RawMessage, processes_sharing_limits
from runner.logs import get_logger

__all__ = [
    "PACERS",
    "PACE_MARGIN",
    "PacedConnection",
    "Pacer",
    "PacerRegistry",
    "RateLimit",
    "paced",
    "share_of",
]

log = get_logger("ebus.pacing")

PACE_MARGIN = 1.1
"""Buckets refill 10 % slower than the limit allows: jitter stays within the peer's count."""


class RateLimit(BaseModel):
    """A documented rate limit: ``per_s`` and/or ``per_min`` calls, ``burst`` calls at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_s: float | None = Field(None, gt=0)
    """Calls in any second."""
    per_min: float | None = Field(None, gt=0)
    """Calls in any minute."""
    burst: int = Field(1, ge=1)
    """Calls that may leave back to back before pacing starts (capped at each limit)."""

    @model_validator(mode="after")
    def _some_limit(self) -> Self:
        """At least one window is given."""
        if self.per_s is None and self.per_min is None:
            raise ValueError("rate_limit needs per_s or per_min")
        return self

    def windows(self) -> list[tuple[float, float]]:
        """The limits as (calls, seconds) pairs."""
        given = [(self.per_s, 1.0), (self.per_min, 60.0)]
        return [(calls, seconds) for calls, seconds in given if calls is not None]


class Pacer:
    """The token buckets and the concurrency cap of one account; thread-safe.

    Each bucket is kept as the time its next token is due (GCRA): ``interval`` apart, with
    ``tolerance`` seconds of burst.
    """

    def __init__(
        self,
        rate_limit: RateLimit | None,
        max_concurrent: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_limit = rate_limit
        self.max_concurrent = max_concurrent
        self._clock = clock
        self._buckets: list[tuple[float, float]] = []
        wanted = rate_limit.burst if rate_limit else 1
        for calls, seconds in rate_limit.windows() if rate_limit else []:
            burst = min(wanted, max(int(calls), 1))
            interval = seconds * PACE_MARGIN / max(calls - burst + 1, 1e-9)
            self._buckets.append((interval, (burst - 1) * interval))
        self._due = [float("-inf")] * len(self._buckets)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None

    def reserve(self) -> float:
        """Take the next call's tokens; seconds the caller must wait before sending (0: now)."""
        with self._lock:
            now = self._clock()
            moment = now
            for (_, tolerance), due in zip(self._buckets, self._due, strict=True):
                moment = max(moment, due - tolerance)
            for index, (interval, _) in enumerate(self._buckets):
                self._due[index] = max(self._due[index], moment) + interval
            return moment - now

    def acquire(self, timeout: float | None = None) -> bool:
        """Take a slot of the concurrency cap, waiting at most ``timeout`` seconds (forever when
        None); False when none came free. Always True without a cap."""
        if self._slots is None:
            return True
        return self._slots.acquire(timeout=timeout)

    def release(self) -> None:
        """Free the slot ``acquire`` took."""
        if self._slots is not None:
            self._slots.release()


def share_of(
    rate_limit: RateLimit | None, max_concurrent: int | None, processes: int
) -> tuple[RateLimit | None, int | None]:
    """One of ``processes`` processes' part of an account's limits.

    Each rate is divided and rounded down to whole calls: a bucket lets its whole number of
    calls through in a window, so N processes each at ⌊limit / N⌋ stay at or under the limit
    together, where limit / N each (2.5 a second: 3 in some second) would not. A rate with
    fewer calls than processes is shared evenly (on average; calls of several processes may
    still meet in one window), bursts and calls in flight keep at least one each.
    """
    if processes == 1:
        return rate_limit, max_concurrent
    if rate_limit is not None:
        rate_limit = RateLimit(
            per_s=_part(rate_limit.per_s, processes),
            per_min=_part(rate_limit.per_min, processes),
            burst=max(rate_limit.burst // processes, 1),
        )
    if max_concurrent is not None:
        max_concurrent = max(max_concurrent // processes, 1)
    return rate_limit, max_concurrent


def _part(calls: float | None, processes: int) -> float | None:
    """Whole calls each when there is at least one for every process; below that an even
    share (0.5 a second over 2: 0.25 each), never more than the limit itself."""
    if calls is None:
        return None
    whole = calls // processes
    return float(whole) if whole >= 1 else calls / processes


def _too_small(rate_limit: RateLimit | None, max_concurrent: int | None, processes: int) -> bool:
    """Whether some limit has fewer calls than there are processes to share it."""
    windows = rate_limit.windows() if rate_limit else []
    limits = [max_concurrent, *(calls for calls, _ in windows)]
    return any(limit is not None and limit < processes for limit in limits)


class PacerRegistry:
    """The pacer of each (system, account), by digest; the latest settings of a key win.

    ``processes`` (default: ``processes_sharing_limits()`` when a pacer is made) is how many
    processes share each account's limits; each pacer keeps its share of them.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        processes: Callable[[], int] = processes_sharing_limits,
    ) -> None:
        self._clock = clock
        self._processes = processes
        self._pacers: dict[str, tuple[tuple[object, ...], Pacer]] = {}
        self._lock = threading.Lock()

    def pacer(
        self, system: str, account: str, rate_limit: RateLimit | None, max_concurrent: int | None
    ) -> Pacer:
        """The shared pacer of ``account`` at ``system``, keeping this process's share of these
        limits."""
        key = hashlib.sha256(f"{system}\0{account}".encode()).hexdigest()
        processes = self._processes()
        settings = (rate_limit, max_concurrent, processes)
        with self._lock:
            current = self._pacers.get(key)
            if current is not None and current[0] == settings:
                return current[1]
            if _too_small(rate_limit, max_concurrent, processes):
                log.warning(
                    "a limit smaller than the number of processes sharing it",
                    system=system,
                    rate_limit=None if rate_limit is None else rate_limit.model_dump(),
                    max_concurrent=max_concurrent,
                    processes=processes,
                    effect="each process keeps one call in flight or an even share of the rate:"
                    " together they may exceed the limit at moments",
                )
            pacer = Pacer(*share_of(rate_limit, max_concurrent, processes), self._clock)
            self._pacers[key] = (settings, pacer)
            return pacer


PACERS = PacerRegistry()
"""The process-wide registry: one pacer per system and account."""


class PacedConnection:
    """A ``Connection``: ``transport`` behind a ``Pacer`` (a slot first, then the tokens)."""

    def __init__(
        self, transport: Connection, pacer: Pacer, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.transport = transport
        self.pacer = pacer
        self._sleep = sleep

    def send(self, call: Outgoing) -> RawMessage:
        """Send ``call`` once a slot is free and its tokens are due."""
        self.pacer.acquire()
        try:
            wait = self.pacer.reserve()
            if wait > 0:
                self._sleep(wait)
            return self.transport.send(call)
        finally:
            self.pacer.release()

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()


def paced(
    system: str,
    account: str,
    transport: Connection,
    rate_limit: RateLimit | None,
    max_concurrent: int | None = None,
    *,
    registry: PacerRegistry = PACERS,
    sleep: Callable[[float], None] = time.sleep,
) -> Connection:
    """``transport`` paced by the shared pacer of ``account`` at ``system``; unchanged when
    neither limit is set."""
    if rate_limit is None and max_concurrent is None:
        return transport
    pacer = registry.pacer(system, account, rate_limit, max_concurrent)
    return PacedConnection(transport, pacer, sleep)
