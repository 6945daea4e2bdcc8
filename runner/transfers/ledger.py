"""The repeat-offender ledger: every canonical penalty decision, per party, across all systems.

Several thresholds count earlier penalties ("二年内受过二次以上行政处罚，又…"). The ledger
records each ``enforcement.penalty_decision.v1`` once (idempotent on ``message_id``; the same
decision arriving from two systems, e.g. a department system and 双公示, is counted once by
its ``decision_no``) under a keyed digest of the party's identity, never the identity itself::

    party_key = HMAC-SHA256(ledger key, identity)
    identity  = "uscc:<uscc>" | "regno:<注册号>" | "id:<id_type>:<id_number>"

The key comes from ``EBUS_TRANSFERS_LEDGER_KEY`` (64 hex characters) or, when that is unset, is
generated once and kept in the store (``ebus_transfer_settings``), so digests survive restarts.
Logs and audit records only ever see the first 12 characters of a digest.

Example::

    ledger = PenaltyLedger(db)
    ledger.record(envelope_json)
    count = ledger.count_prior(PriorCount(...))
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from runner.stores.db import Database
from runner.transfers import _tables as t
from runner.transfers.rules import PriorCount, subject_time
from runner.transfers.store import ensure_tables

__all__ = ["KEY_ENV", "PenaltyLedger", "party_identity"]

KEY_ENV = "EBUS_TRANSFERS_LEDGER_KEY"
"""Environment variable holding the ledger's HMAC key as hex (at least 32 bytes)."""

_PLACEHOLDER = "00000000000000000X"
_PENALTY = "enforcement.penalty_decision.v1"


def party_identity(party: Mapping[str, Any]) -> str | None:
    """The identity text of a party, or None when the party carries no identifier."""
    uscc = party.get("uscc")
    if uscc and uscc != _PLACEHOLDER:
        return f"uscc:{str(uscc).upper()}"
    if uscc == _PLACEHOLDER and party.get("registration_no"):
        return f"regno:{party['registration_no']}"
    if party.get("id_number"):
        return f"id:{party.get('id_type') or 'other'}:{str(party['id_number']).upper()}"
    return None


def _years_before(at: dt.datetime, years: int) -> dt.datetime:
    try:
        return at.replace(year=at.year - years)
    except ValueError:  # 29 February
        return at.replace(year=at.year - years, day=28)


class PenaltyLedger:
    """Records penalty decisions per party and counts a party's earlier ones."""

    def __init__(self, db: Database, key: bytes | None = None) -> None:
        ensure_tables(db)
        self._db = db
        self._key = key or self._load_key()

    def _load_key(self) -> bytes:
        configured = os.environ.get(KEY_ENV)
        if configured:
            key = bytes.fromhex(configured)
            if len(key) < 32:
                raise ValueError(f"{KEY_ENV} must hold at least 32 bytes (64 hex characters)")
            return key
        with self._db.write() as conn:
            conn.execute(
                self._db.insert_ignore(t.settings, ["name"]).values(
                    name="ledger_key", value=secrets.token_hex(32)
                )
            )
            value = conn.execute(
                select(t.settings.c.value).where(t.settings.c.name == "ledger_key")
            ).scalar_one()
        return bytes.fromhex(value)

    def party_key(self, party: Mapping[str, Any]) -> str | None:
        """The keyed digest of a party (64 hex), or None for a party without identifier."""
        identity = party_identity(party)
        if identity is None:
            return None
        return hmac.new(self._key, identity.encode("utf-8"), hashlib.sha256).hexdigest()

    def record(self, view: Mapping[str, Any]) -> bool:
        """Record a canonical penalty decision (envelope JSON); True when it was new."""
        if view.get("schema") != _PENALTY:
            return False
        payload = view["payload"]
        key = self.party_key(payload.get("party") or {})
        if key is None:
            return False
        agency = payload.get("agency") or {}
        row = {
            "message_id": view["message_id"],
            "party_key": key,
            "decision_no": payload["decision_no"],
            "decided_at": subject_time(_PENALTY, view),
            "domain": agency.get("domain"),
            "violation_type": payload.get("violation_type") or "",
            "source_system": view.get("source_system") or "",
            "case_code": view.get("case_code"),
            "agency": json.dumps(agency, ensure_ascii=False, sort_keys=True),
            "recorded_at": dt.datetime.now(dt.UTC),
        }
        with self._db.write() as conn:
            known = conn.execute(
                select(t.ledger.c.message_id).where(
                    (t.ledger.c.message_id == row["message_id"])
                    | (
                        (t.ledger.c.party_key == key)
                        & (t.ledger.c.decision_no == row["decision_no"])
                    )
                )
            ).first()
            if known is not None:
                return False
            conn.execute(t.ledger.insert().values(**row))
        return True

    def count_prior(self, query: PriorCount) -> int:
        """How many distinct earlier decisions of the party match ``query``."""
        key = self.party_key(query.party)
        if key is None:
            return 0
        c = t.ledger.c
        stmt = select(c.decision_no, c.violation_type, c.message_id).where(
            c.party_key == key, c.decided_at < query.before
        )
        if query.within_years is not None:
            stmt = stmt.where(c.decided_at >= _years_before(query.before, query.within_years))
        if query.domain is not None:
            stmt = stmt.where(c.domain == query.domain)
        pattern = re.compile(query.violation_type) if query.violation_type else None
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        decisions = {
            row.decision_no
            for row in rows
            if row.message_id != query.exclude_message_id
            and row.decision_no != query.exclude_decision_no
            and (pattern is None or pattern.search(row.violation_type))
        }
        return len(decisions)

    def entries(self, party: Mapping[str, Any]) -> int:
        """How many decisions the ledger holds for ``party`` (for operators and tests)."""
        key = self.party_key(party)
        with self._db.read() as conn:
            return len(
                conn.execute(select(t.ledger.c.message_id).where(t.ledger.c.party_key == key)).all()
            )
