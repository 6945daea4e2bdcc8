"""An in-memory ``PollContext`` for testing pollers against a simulator (no bus, no stores).

Calls go through a real connection (``HttpTransport`` to a loopback simulator); answers handed
to ``emit`` and cursors handed to ``commit`` are recorded, so a test can check exactly what a
cycle published and whether it committed. ``cursor()`` returns the last commit, so running
``poll`` twice on one context behaves like two scheduled cycles.

Example::

    with EcoEnvSimulator() as sim, closing(open_transport(config)) as transport:
        ctx = RecordingPollContext(transport.send, now=at)
        SPEC.poll(ctx, config)
        assert [m for m, _ in ctx.emitted] == ["get_case_list_response"]
        assert ctx.commits == [{"end": "…"}]
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from runner.adapter_api import MessageRejected, Outgoing, RawMessage

__all__ = ["Exchange", "RecordingPollContext"]

Exchange = tuple[str, Outgoing, RawMessage]
"""One call of a cycle: the request's message type, the call, the answer."""


class RecordingPollContext:
    """A ``PollContext`` that records calls, emitted answers and commits."""

    def __init__(
        self,
        send: Callable[[Outgoing], RawMessage],
        *,
        now: dt.datetime,
        cursor: dict[str, Any] | None = None,
    ) -> None:
        self.now = now
        self.exchanges: list[Exchange] = []
        self.emitted: list[tuple[str, RawMessage]] = []
        self.commits: list[dict[str, Any]] = []
        self.facts: dict[str, dict[str, Any]] = {}
        self.rejected: list[tuple[str, RawMessage, MessageRejected]] = []
        self._send = send
        self._cursor = copy.deepcopy(cursor)

    def cursor(self) -> dict[str, Any] | None:
        """The last committed cursor (or the initial one)."""
        return copy.deepcopy(self._cursor)

    def call(self, message_id: str, call: Outgoing) -> RawMessage:
        """Send ``call`` and record the exchange."""
        answer = self._send(call)
        self.exchanges.append((message_id, call, answer))
        return answer

    def emit(self, message_id: str, raw: RawMessage) -> None:
        """Record an emitted answer."""
        self.emitted.append((message_id, raw))

    def commit(self, cursor: dict[str, Any]) -> None:
        """Record a commit; the next ``cursor()`` returns it."""
        self.commits.append(copy.deepcopy(cursor))
        self._cursor = copy.deepcopy(cursor)

    def recall(self, key: str) -> dict[str, Any] | None:
        """A fact remembered earlier on this context."""
        return copy.deepcopy(self.facts.get(key))

    def remember(self, key: str, value: dict[str, Any]) -> None:
        """Remember a fact (in memory)."""
        self.facts[key] = copy.deepcopy(value)

    def reject(self, message_id: str, raw: RawMessage, error: MessageRejected) -> None:
        """Record a rejection."""
        self.rejected.append((message_id, raw, error))

    def emitted_ids(self) -> list[str]:
        """The message types of the emitted answers, in order."""
        return [message_id for message_id, _ in self.emitted]
