"""Retry arithmetic shared by the delivery and lookup workers: the attempt history a retried
message carries, and the durable delay before its next try."""

from __future__ import annotations

import json
import random
from typing import Any

from runner.bus import Message
from runner.engine.codec import ATTEMPTS
from runner.routes import RetryPolicy

__all__ = ["attempts_of", "retry_delay"]


def attempts_of(item: Message) -> list[dict[str, Any]]:
    """The failed tries ``item`` carries (``ATTEMPTS`` header: time, error, code of each)."""
    raw = item.headers.get(ATTEMPTS)
    return list(json.loads(str(raw))) if raw else []


def retry_delay(policy: RetryPolicy, tries: int) -> float:
    """Seconds to wait, durably, after ``tries`` failed tries (1 for the first failure).

    With a ``schedule``: its entry for this try, then ``max_delay`` once it runs out. Otherwise
    exponential with full jitter: uniform in [base/2, base], base = initial·2^(tries-1), capped
    at ``max_delay`` (retrying peers do not all come back at once).
    """
    if policy.schedule:
        return policy.schedule[tries - 1] if tries <= len(policy.schedule) else policy.max_delay
    base = min(policy.max_delay, policy.initial * 2 ** (tries - 1))
    return random.uniform(base / 2, base)
