"""Durable polling cursors: where each poller has got to.

A poller stores the pages of a window on the bus first, then commits the window's end here, so a
restart resumes after the last window that was fully stored (at-least-once: a crash in between
re-polls that window, and idempotency recognises the resends). The value is a small JSON object
whose shape belongs to the poller, e.g. ``{"until": "2024-05-01T10:00:00+08:00", "page": 3}``.

Example::

    cursors = CursorStore(db)
    start = (cursors.get("eco_env.penalties") or {}).get("until", default_start)
    ...
    cursors.set("eco_env.penalties", {"until": window_end})
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from runner.stores._tables import cursors
from runner.stores.db import Database

__all__ = ["CursorStore"]


class CursorStore:
    """Named JSON cursors in one ``Database``; a ``set`` is atomic and durable on return."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> dict[str, Any] | None:
        """The cursor called ``name``, or None when it was never set."""
        with self._db.read() as conn:
            text = conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar()
        return None if text is None else dict(json.loads(text))

    def set(self, name: str, value: dict[str, Any]) -> None:
        """Replace the cursor called ``name``; ``TypeError``/``ValueError`` if not plain JSON."""
        if not isinstance(value, dict):
            raise TypeError(f"cursor {name!r}: expected a dict, got {type(value).__name__}")
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
        row = {"name": name, "value": text, "updated_at": dt.datetime.now(dt.UTC)}
        with self._db.write() as conn:
            conn.execute(self._db.upsert(cursors, ["name"]).values(row))
