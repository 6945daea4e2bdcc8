"""The outbox relay: publish what committed transactions enqueued, then mark it sent."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import select, update

from runner.bus import OutMessage
from runner.stores.db import Database
from runner.transfers import _tables as t

__all__ = ["relay"]


def relay(
    db: Database, publish: Callable[[str, Sequence[OutMessage]], None], limit: int = 200
) -> int:
    """Publish unsent outbox messages (oldest first) and mark them sent; how many.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several relays share
    the work; a crash after publishing and before the commit sends them again (same ids).
    """
    c = t.outbox.c
    with db.write() as conn:
        stmt = select(t.outbox).where(c.sent_at.is_(None)).order_by(c.id).limit(limit)
        if db.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = conn.execute(stmt).all()
        if not rows:
            return 0
        by_target: dict[str, list[OutMessage]] = defaultdict(list)
        for row in rows:
            headers = json.loads(row.headers)
            by_target[row.target].append(OutMessage(row.body, headers, row.message_id))
        for target, messages in by_target.items():
            publish(target, messages)
        conn.execute(
            update(t.outbox)
            .where(c.id.in_([row.id for row in rows]))
            .values(sent_at=dt.datetime.now(dt.UTC))
        )
    return len(rows)
