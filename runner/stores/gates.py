"""Shared rate gates: when a throttled key may call again, for every bus process.

A gateway that answers 429 with ``Retry-After`` wants no request with that key until the wait
is over, from anyone: 12345 locks a key for 10 minutes after repeated violations (README §2,
code 1103). Inside one process ``adapters._transports.ratelimit.RateGate`` holds the key back;
this store tells the other processes (``ebus run --processes N``, other machines on one
PostgreSQL). Keys are digests the caller computes, never the key itself. Times are wall-clock
UTC: machines sharing a store need synchronised clocks (NTP). A database that cannot be reached
raises ``TransientError`` (code ``STORE``).

Example::

    gates = SharedGateStore(db)
    gates.hold(key, now + dt.timedelta(seconds=30))    # after a 429 with Retry-After: 30
    until = gates.closed_until(key)                      # before each call
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from runner.stores._tables import rate_gates
from runner.stores.db import Database
from runner.stores.tokens import store_errors_are_transient

__all__ = ["SharedGateStore"]


class SharedGateStore:
    """Closed-until times by key digest, in one ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._read = select(rate_gates.c.closed_until)
        self._create = db.insert_ignore(rate_gates, ["key"])

    def closed_until(self, key: str) -> dt.datetime | None:
        """Until when ``key`` is held back (a past time or None: it may call)."""
        with store_errors_are_transient("rate gate"), self._db.read() as conn:
            until: dt.datetime | None = conn.execute(
                self._read.where(rate_gates.c.key == key)
            ).scalar()
        return until

    def hold(self, key: str, until: dt.datetime) -> None:
        """Hold ``key`` back until ``until``; never shortens a wait already set."""
        c = rate_gates.c
        with store_errors_are_transient("rate gate"), self._db.write() as conn:
            conn.execute(self._create.values(key=key, closed_until=until))
            conn.execute(
                update(rate_gates)
                .where(c.key == key, c.closed_until < until)
                .values(closed_until=until)
            )
