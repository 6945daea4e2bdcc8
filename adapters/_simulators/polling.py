"""An in-memory ``PollContext`` for testing pollers against a simulator (no bus, no stores).

Calls go through a real connection (``HttpTransport`` to a loopback simulator); answers handed
to ``emit`` and cursors handed to ``commit`` are recorded, so a test can check exactly what a
cycle published and whether it committed. ``cursor()`` returns the last commit, so running
``poll`` twice on one context behaves like two scheduled cycles. A batch job's day archive is
given as ``archive`` (envelopes by received day, in order) and its outbound rendering as
``render`` (e.g. ``runner.engine.archive.render_accepted`` over the project's mapping).

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runner.adapter_api import MessageRejected, Outgoing, PermanentError, RawMessage

__all__ = ["Checker", "Exchange", "RecordingPollContext", "Renderer"]

Exchange = tuple[str, Outgoing, RawMessage]
"""One call of a cycle: the request's message type, the call, the answer."""
Renderer = Callable[[str, Sequence[Mapping[str, Any]]], bytes]
"""``render_document``'s work: the document of ``message`` for the envelopes it accepts."""
Checker = Callable[[str, RawMessage], MessageRejected | None]
"""``PollContext.check`` for a test: message type and raw message → the rejection or None."""


class RecordingPollContext:
    """A ``PollContext`` that records calls, emitted answers and commits."""

    def __init__(
        self,
        send: Callable[[Outgoing], RawMessage],
        *,
        now: dt.datetime,
        cursor: dict[str, Any] | None = None,
        archive: Mapping[dt.date, Sequence[Mapping[str, Any]]] | None = None,
        render: Renderer | None = None,
        checker: Checker | None = None,
    ) -> None:
        self.now = now
        self._checker = checker
        self.archive = {day: list(envelopes) for day, envelopes in (archive or {}).items()}
        """The canonical envelopes ``day_messages`` reads, by received day, in order."""
        self._render = render
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

    def check(self, message_id: str, raw: RawMessage) -> MessageRejected | None:
        """What ``checker`` says of ``raw`` (None without one: every message maps)."""
        return self._checker(message_id, raw) if self._checker is not None else None

    def day_messages(self, schemas: Sequence[str], day: dt.date) -> list[dict[str, Any]]:
        """The envelopes of ``schemas`` in ``archive`` for ``day``, in order (copies)."""
        wanted = set(schemas)
        return [copy.deepcopy(dict(e)) for e in self.archive.get(day, []) if e["schema"] in wanted]

    def render_document(self, message: str, envelopes: Sequence[Mapping[str, Any]]) -> bytes:
        """The document ``render`` makes (``b""`` for no envelopes); without ``render`` a
        ``PermanentError`` says the context was given none."""
        if not envelopes:
            return b""
        if self._render is None:
            raise PermanentError(
                f"this RecordingPollContext cannot render {message}: give it render=",
                code="NO_RENDERER",
            )
        return self._render(message, envelopes)

    def emitted_ids(self) -> list[str]:
        """The message types of the emitted answers, in order."""
        return [message_id for message_id, _ in self.emitted]
