"""Shared access tokens: one token per OAuth2 client for every bus process, on every machine.

Some token servers revoke a client's previous token when they issue a new one (joint_punishment
quirk Q2). Inside one process the adapters' token cache refreshes single-flight; across
processes (``ebus run --processes N``, or several machines on one PostgreSQL) this store is
the single flight. A process that needs a new token *claims* the refresh of the version it saw
(a lease, so a process that dies while fetching does not hold it forever), fetches, and
*publishes* the token as the next version; the others see the claim, wait for that version and
adopt it instead of fetching their own. Both are compare-and-set updates on one row, so the
same on SQLite and PostgreSQL.

The store keeps what it is handed: the adapters seal the token with a key derived from the
client secret (``adapters._transports.oauth2``), so the database never holds a usable token.
Times are wall-clock UTC, so machines sharing a store need synchronised clocks (NTP).

Example::

    tokens = SharedTokenStore(db)
    seen = tokens.read(key)
    if tokens.claim(key, seen.version, now, lease_s=30):
        token = fetch()
        tokens.publish(key, seen.version, seal(token), now + lifetime)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from runner.stores._tables import shared_tokens
from runner.stores.db import Database

__all__ = ["SharedToken", "SharedTokenStore"]


@dataclass(frozen=True, slots=True)
class SharedToken:
    """One client's row: the sealed token and its expiry (None before the first), its version
    (how many tokens were published) and until when a process holds the claim to refresh it."""

    sealed: str | None
    expires_at: dt.datetime | None
    version: int
    claimed_until: dt.datetime | None


_NONE = SharedToken(None, None, 0, None)


class SharedTokenStore:
    """Tokens by client key (a digest the caller computes), in one ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        c = shared_tokens.c
        self._read = select(c.sealed, c.expires_at, c.version, c.claimed_until)
        self._create = db.insert_ignore(shared_tokens, ["key"])

    def read(self, key: str) -> SharedToken:
        """The client's row; version 0 with nothing in it when no token was ever published."""
        with self._db.read() as conn:
            row = conn.execute(self._read.where(shared_tokens.c.key == key)).first()
        return _NONE if row is None else SharedToken(*row)

    def claim(self, key: str, version: int, now: dt.datetime, lease_s: float) -> bool:
        """Take the refresh of ``version`` for ``lease_s`` seconds: False when the row moved on
        to another version or another process holds an unexpired claim."""
        c = shared_tokens.c
        with self._db.write() as conn:
            conn.execute(self._create.values(key=key, version=0))
            done = conn.execute(
                update(shared_tokens)
                .where(
                    c.key == key,
                    c.version == version,
                    (c.claimed_until.is_(None)) | (c.claimed_until <= now),
                )
                .values(claimed_until=now + dt.timedelta(seconds=lease_s))
            )
        return done.rowcount == 1

    def publish(self, key: str, version: int, sealed: str, expires_at: dt.datetime) -> bool:
        """Store a new token as version ``version + 1`` and end the claim; False when the row is
        no longer at ``version`` (the claim had lapsed and another process published first)."""
        c = shared_tokens.c
        with self._db.write() as conn:
            done = conn.execute(
                update(shared_tokens)
                .where(c.key == key, c.version == version)
                .values(
                    sealed=sealed,
                    expires_at=expires_at,
                    version=version + 1,
                    claimed_until=None,
                )
            )
        return done.rowcount == 1

    def release(self, key: str, version: int) -> None:
        """Give the claim on ``version`` up (the fetch failed): another process may try now."""
        c = shared_tokens.c
        with self._db.write() as conn:
            conn.execute(
                update(shared_tokens)
                .where(c.key == key, c.version == version)
                .values(claimed_until=None)
            )
