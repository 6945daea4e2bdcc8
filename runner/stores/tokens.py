"""Shared access tokens: one token per OAuth2 client for every bus process, on every machine.

Some token servers revoke a client's previous token when they issue a new one (joint_punishment
quirk Q2). Inside one process the adapters' token cache refreshes single-flight; across
processes (``ebus run --processes N``, or several machines on one PostgreSQL) this store is
the single flight. A process that needs a new token *claims* the refresh of the version it saw
(a lease, so a process that dies while fetching does not hold it forever, and a random claim id,
so that only the holder can publish or release it), fetches, and *publishes* the token as the
next version; the others see the claim, wait for that version and adopt it instead of fetching
their own. All three are compare-and-set updates of one row: the same on SQLite and PostgreSQL.

The store keeps what it is handed: the adapters seal the token with keys derived from the client
secret (``adapters._transports.oauth2``), so the database never holds a usable token. Times are
wall-clock UTC: machines sharing a store need synchronised clocks (NTP). A database that cannot
be reached raises ``TransientError`` (code ``STORE``): the call waits and is tried again.

Example::

    tokens = SharedTokenStore(db)
    seen = tokens.read(key)
    claim = tokens.claim(key, seen.version, now, lease_s=30)
    if claim is not None:
        token = fetch()
        tokens.publish(key, claim, seal(token), now + lifetime)
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from runner.errors import TransientError
from runner.stores._tables import shared_tokens
from runner.stores.db import Database

__all__ = ["SharedToken", "SharedTokenStore", "store_errors_are_transient"]


@dataclass(frozen=True, slots=True)
class SharedToken:
    """One client's row: the sealed token and its expiry (None before the first), its version
    (how many tokens were published) and until when a claim to refresh it holds."""

    sealed: str | None
    expires_at: dt.datetime | None
    version: int
    claimed_until: dt.datetime | None


_NONE = SharedToken(None, None, 0, None)


@contextmanager
def store_errors_are_transient(what: str) -> Iterator[None]:
    """Raise ``TransientError`` (code ``STORE``) for a database error inside: the caller's
    call is retried later like any other unavailable dependency."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise TransientError(f"{what}: the store is unavailable", code="STORE") from exc


class SharedTokenStore:
    """Tokens by client key (a digest the caller computes), in one ``Database``."""

    def __init__(
        self, db: Database, nonce: Callable[[], str] = lambda: secrets.token_hex(16)
    ) -> None:
        self._db = db
        self._nonce = nonce
        c = shared_tokens.c
        self._read = select(c.sealed, c.expires_at, c.version, c.claimed_until)
        self._create = db.insert_ignore(shared_tokens, ["key"])

    def read(self, key: str) -> SharedToken:
        """The client's row; version 0 with nothing in it when no token was ever published."""
        with store_errors_are_transient("shared token"), self._db.read() as conn:
            row = conn.execute(self._read.where(shared_tokens.c.key == key)).first()
        return _NONE if row is None else SharedToken(*row)

    def claim(self, key: str, version: int, now: dt.datetime, lease_s: float) -> str | None:
        """Take the refresh of ``version`` for ``lease_s`` seconds: the claim's id, or None
        when the row moved on to another version or another claim has not lapsed."""
        c = shared_tokens.c
        claim = self._nonce()
        with store_errors_are_transient("shared token"), self._db.write() as conn:
            conn.execute(self._create.values(key=key, version=0))
            done = conn.execute(
                update(shared_tokens)
                .where(
                    c.key == key,
                    c.version == version,
                    (c.claimed_until.is_(None)) | (c.claimed_until <= now),
                )
                .values(claimed_until=now + dt.timedelta(seconds=lease_s), claimed_by=claim)
            )
        return claim if done.rowcount == 1 else None

    def publish(self, key: str, claim: str, sealed: str, expires_at: dt.datetime) -> bool:
        """Store a new token as the next version and end ``claim``; False when the claim is no
        longer the row's (it lapsed and another process claimed or published since)."""
        c = shared_tokens.c
        with store_errors_are_transient("shared token"), self._db.write() as conn:
            done = conn.execute(
                update(shared_tokens)
                .where(c.key == key, c.claimed_by == claim)
                .values(
                    sealed=sealed,
                    expires_at=expires_at,
                    version=c.version + 1,
                    claimed_until=None,
                    claimed_by=None,
                )
            )
        return done.rowcount == 1

    def release(self, key: str, claim: str) -> None:
        """Give ``claim`` up (its fetch failed) so another process may try now; nothing when
        the claim is no longer the row's."""
        c = shared_tokens.c
        with store_errors_are_transient("shared token"), self._db.write() as conn:
            conn.execute(
                update(shared_tokens)
                .where(c.key == key, c.claimed_by == claim)
                .values(claimed_until=None, claimed_by=None)
            )
