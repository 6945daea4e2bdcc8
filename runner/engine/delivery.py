"""The delivery worker of one destination: canonical envelopes in, calls to the system out.

Per batch from ``ebus.deliver.<route>.<destination>``: skip what this destination already
received (idempotency), group the rest into calls (the mapping's batch size), render, frame and
send each call with quick in-process retries (tenacity: exponential backoff with jitter), map
the answer to a delivery outcome, and settle every message by its record's status:

- accepted → marked delivered, audited, acknowledged;
- rejected, or ``batch_failed`` → dead-lettered with the peer's code, after one attempt;
- retry, ``batch_retry``, a timeout → republished with a durable delay (exponential, capped,
  or the peer's ``Retry-After``) until the route's attempts are spent, then dead-lettered.

A circuit breaker per destination holds calls back while the system keeps failing; a slow or
broken destination only ever delays its own queue.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from runner.adapter_api import CallContext, RawMessage
from runner.bus import ACK, Disposition, Message, OutMessage
from runner.engine.breaker import CircuitBreaker
from runner.engine.codec import ATTEMPTS, CASE_CODE, REPLAYED, decode_envelope
from runner.engine.plan import DestinationPlan
from runner.engine.retrying import attempts_of, retry_delay
from runner.engine.services import Services
from runner.errors import MessageRejected, PermanentError, TransientError
from runner.logs import get_logger
from runner.stamp import now
from runner.stores.audit import AuditEvent
from runner.stores.dead_letters import Attempt, DeadLetter
from schemas import DeliveryOutcome

__all__ = ["DeliveryWorker"]

log = get_logger("ebus.delivery")


CALL = "x-ebus-call"
"""On the messages of a call requeued whole: ``sequence|first send time|size``, so that the
call goes out again as the same call (``CallContext.started``: e.g. the same batch number)."""


@dataclass(frozen=True)
class _CallId:
    """What a call keeps when it is sent again: its sequence and when it was first sent."""

    sequence: int
    started: dt.datetime

    def header(self, size: int) -> str:
        """The ``CALL`` header of the call's messages."""
        return f"{self.sequence}|{self.started.isoformat()}|{size}"

    @classmethod
    def of(cls, chunk: list[Message]) -> _CallId | None:
        """The call that ``chunk`` was requeued from, when it is exactly that call."""
        values = {m.headers.get(CALL) for m in chunk}
        if len(values) != 1:
            return None
        (value,) = values
        try:
            sequence, started, size = str(value).split("|")
            if int(size) != len(chunk):
                return None
            return cls(int(sequence), dt.datetime.fromisoformat(started))
        except ValueError:  # absent, or not ours
            return None


@dataclass(frozen=True)
class _Settle:
    """The fate of one message of a call."""

    status: str  # accepted | rejected | retry
    code: str | None = None
    reason: str = ""
    record_id: str | None = None
    retry_after: float | None = None


@dataclass
class _Hold:
    """An ordered destination's hold on one case: its messages still to settle, in order.

    ``line`` holds the message ids of the case that were requeued for a retry or postponed
    behind one, in the case's order (an ordered set: dict keys). A message may be sent only
    when every id ahead of it in the line goes out in the same call; it leaves the line once
    settled (delivered or dead-lettered), and the hold ends when the line is empty. The order
    does not depend on when the broker hands a delayed message back: RabbitMQ's delay buckets
    round delays up, so a message postponed later may come back earlier.
    """

    line: dict[str, None] = field(default_factory=dict)
    due: float = 0.0
    """Monotonic time the last retry becomes visible again."""
    until: float = 0.0
    """Monotonic time the hold lapses even if a retry is never seen again."""

    def blocked(self, message_id: str, going: set[str]) -> bool:
        """Whether an id ahead of ``message_id`` is still out (not among ``going``, the ids of
        the call being put together); a message not in the line yet joins it at the end."""
        self.line.setdefault(message_id, None)
        for ahead in self.line:
            if ahead == message_id:
                return False
            if ahead not in going:
                return True
        return False  # unreachable: the id is in the line


class DeliveryWorker:
    """Delivers one route destination's queue to its system."""

    def __init__(
        self, services: Services, plan: DestinationPlan, sequence: Callable[[], int] | None = None
    ) -> None:
        destination = plan.destination
        if not (destination.system and destination.message and plan.queue):
            raise ValueError(f"{plan.route}/{plan.key} is not a system destination")
        self.services = services
        self.plan = plan
        self.queue = plan.queue
        self.system = destination.system
        self.message = destination.message
        self.policy = destination.retry
        self.adapter = services.project.registry.get(self.system)
        self.mapping = services.project.outbound_mapping(self.system, self.message)
        kind = self.adapter.message(self.message)
        self.answer = (
            services.project.inbound_mapping(self.system, kind.response) if kind.response else None
        )
        self.breaker = CircuitBreaker(destination.breaker.failures, destination.breaker.cooldown)
        self.batch_size = min(destination.batch or self.mapping.batch_max, self.mapping.batch_max)
        # one counter per system, shared by every worker and process: a batch number that two
        # destinations of the same system both used would be refused as a conflicting resend
        # (drawn only for adapters whose calls carry one: ``variables``; a store write per call)
        self._sequence = sequence or (
            functools.partial(services.sequences.next, self.system)
            if self.adapter.variables
            else _no_sequence
        )
        self.name = f"{plan.route}/{plan.key}"
        self.ordered = destination.ordered
        self._held: dict[str, _Hold] = {}  # case_code → the retries it waits for
        self._delivered: list[str] = []
        self._events: list[AuditEvent] = []

    def __call__(self, batch: list[Message]) -> list[Disposition]:
        """Handle one batch (the bus handler)."""
        wait = self.breaker.wait_s()
        if wait > 0:
            return self._postpone(batch, wait, "circuit open")
        dispositions: list[Disposition | None] = [None] * len(batch)
        chunk: list[int] = []
        going: set[str] = set()  # the message ids of ``chunk``
        for index, item in enumerate(batch):
            # holds are looked at just before each call: the call before may have set one
            hold = self._hold_s(item, going)
            if hold > 0:
                dispositions[index] = self._postpone([item], hold, "case held for order")[0]
                continue
            chunk.append(index)
            if item.message_id:
                going.add(item.message_id)
            if len(chunk) == self.batch_size:
                self._run(batch, chunk, dispositions)
                chunk, going = [], set()
        if chunk:
            self._run(batch, chunk, dispositions)
        return [d if d is not None else ACK for d in dispositions]

    def _run(
        self, batch: list[Message], chunk: list[int], dispositions: list[Disposition | None]
    ) -> None:
        for index, disposition in zip(chunk, self._call([batch[i] for i in chunk]), strict=True):
            dispositions[index] = disposition

    def _hold_s(self, item: Message, going: set[str]) -> float:
        """For an ordered destination: how long this message waits behind its case's line.

        A case is held from the moment one of its messages is requeued for a retry until every
        message that queued up behind it is settled (``_Hold``). A message waits while an
        earlier one of its case is still out, unless that one goes in the same call
        (``going``). A hold nobody releases (its retry was taken by another process) lapses
        after ``_Hold.until``.
        """
        case = item.headers.get(CASE_CODE)
        if not self.ordered or not case or not item.message_id:
            return 0.0
        hold = self._held.get(str(case))
        if hold is None:
            return 0.0
        clock = time.monotonic()
        if clock >= hold.until:
            self._held.pop(str(case), None)
            return 0.0
        if not hold.blocked(item.message_id, going):
            return 0.0
        return max(hold.due - clock, 0.0) + 0.05

    def _release(self, envelope: Any) -> None:
        """A message is settled for good: it leaves its case's line."""
        hold = self._held.get(envelope.case_code) if envelope.case_code else None
        if hold is not None:
            hold.line.pop(envelope.message_id, None)
            if not hold.line:
                del self._held[envelope.case_code]

    # --- one call ---------------------------------------------------------------------------

    def _call(self, chunk: list[Message]) -> list[Disposition]:
        envelopes = [decode_envelope(m) for m in chunk]
        fresh: list[int] = []
        # what the destination already has, and a re-read duplicate in the same batch, go once
        ids = [e.message_id for e in envelopes]
        services = self.services
        with services.db.read() as conn:
            seen = services.idempotency.delivered_among(self.name, ids, conn=conn)
            # a re-read of a message this destination already gave up on is not tried again
            # (it would only be dead-lettered again); ``ebus dlq replay`` sends it again
            dead = services.dead_letters.dead_among(self.plan.route, self.plan.key, ids, conn=conn)
        for i, envelope in enumerate(envelopes):
            if envelope.message_id in seen:
                continue
            if envelope.message_id in dead and not chunk[i].headers.get(REPLAYED):
                self._audit("dropped", envelope, {"why": "already dead-lettered here"})
                seen.add(envelope.message_id)
                continue
            if self.mapping.accepts is not None and not self.mapping.accepts_message(
                envelope.model_dump(mode="json")
            ):
                self._audit("dropped", envelope, {"why": "the call does not take it (accepts)"})
                seen.add(envelope.message_id)
                continue
            seen.add(envelope.message_id)
            fresh.append(i)
        settles: dict[int, _Settle] = {
            i: _Settle("accepted", reason="already delivered")
            for i in range(len(chunk))
            if i not in fresh
        }
        again: str | None = None  # the CALL header when the whole call is sent again
        if fresh:
            call_id = _CallId.of([chunk[i] for i in fresh]) or _CallId(self._sequence(), now())
            try:
                outcome = self._send([envelopes[i] for i in fresh], call_id)
                settles |= {fresh[j]: s for j, s in enumerate(self._settles(outcome, len(fresh)))}
            except TransientError as exc:
                self.breaker.failure()
                again = call_id.header(len(fresh))
                settles |= {
                    i: _Settle("retry", exc.code, str(exc), retry_after=exc.retry_after)
                    for i in fresh
                }
            except (PermanentError, MessageRejected) as exc:
                if isinstance(exc, MessageRejected) and len(chunk) > 1:
                    # one record the mapping cannot render must not take its batch with it
                    return [d for item in chunk for d in self._call([item])]
                code = getattr(exc, "code", None) or getattr(exc, "rule", None)
                settles |= {i: _Settle("rejected", code, str(exc)) for i in fresh}
        retry_after = next(
            (
                s.retry_after
                for s in settles.values()
                if s.status == "retry" and s.retry_after is not None
            ),
            None,
        )
        tries = max((len(attempts_of(m)) for m in chunk), default=0) + 1
        delay = retry_after if retry_after is not None else retry_delay(self.policy, tries)
        requeue: list[OutMessage] = []
        dispositions = [
            self._settle(chunk[i], envelopes[i], settles[i], delay, requeue, again)
            for i in range(len(chunk))
        ]
        if requeue:  # one publish, in order: the call's messages come back together
            self.services.bus.publish(self.queue, requeue, delay_s=delay)
        self._flush()
        return dispositions

    def _flush(self) -> None:
        """Write what a call's settling collected, delivery marks and audit events, in one
        transaction: a mark never stands without its ``delivered`` event, nor the reverse."""
        if not (self._delivered or self._events):
            return
        services = self.services
        with services.db.write() as conn:
            if self._delivered:
                services.idempotency.mark_delivered_many(self.name, self._delivered, conn=conn)
            services.audit.record_in(conn, self._events)
        self._delivered, self._events = [], []

    def _send(self, envelopes: list[Any], call_id: _CallId) -> DeliveryOutcome:
        """Send one call, retried in process; each attempt is rendered and framed afresh (new
        clock and nonce: a signature or timestamp window must not see a replay) as the same
        call (``call_id``: same sequence, same first send time)."""
        config = self.services.config(self.system)
        connection = self.services.connection(self.system)
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.in_process + 1),
            wait=wait_random_exponential(multiplier=0.2, max=self.policy.in_process_max),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                call = CallContext(
                    now=now(),
                    nonce=uuid.uuid4().hex,
                    sequence=call_id.sequence,
                    started=call_id.started,
                )
                outgoing = self._frame(envelopes, config, call)
                answer = connection.send(outgoing)
                answer = RawMessage(
                    answer.body,
                    answer.headers,
                    {**answer.meta, "records": str(len(envelopes))},
                    answer.received_at,
                )
                outcome = self._outcome(answer, config)
                if outcome.outcome == "batch_retry":
                    raise TransientError(
                        f"{self.system} asked to retry the call",
                        code=outcome.code,
                        retry_after=outcome.retry_after_s,
                    )
        self.breaker.success()
        return outcome

    def _frame(self, envelopes: list[Any], config: Any, call: CallContext) -> Any:
        """Render ``envelopes`` and frame them as one call of ``call``."""
        variables = (
            dict(self.adapter.variables(self.message, config, call))
            if self.adapter.variables
            else {}
        )
        document = self.mapping.render(envelopes, variables)
        return self.adapter.outgoing(self.message, document, config, call)

    def _outcome(self, answer: RawMessage, config: Any) -> DeliveryOutcome:
        """The delivery outcome of an answer.

        The answer's mapping decides; an answer it cannot read leaves the outcome unknown
        (canonical.md), so the whole call is sent again — except a plain 4xx, which is final.
        """
        status = int(answer.meta.get("status", "200"))
        retry_after = _retry_after(answer)
        if self.answer is not None:
            try:
                body = self.adapter.inbound(self.answer.message, answer, config)
                result = self.answer.apply(body)
            except MessageRejected as exc:
                if 400 <= status < 500 and status not in (408, 429):
                    return _whole("batch_failed", f"HTTP{status}", None)
                raise TransientError(
                    f"{self.system} answer unusable ({exc.rule})",
                    code=f"HTTP{status}",
                    retry_after=retry_after,
                ) from exc
            if result.outcome is None:
                raise TransientError(
                    f"{self.system} answered with data, not an outcome", code=f"HTTP{status}"
                )
            return result.outcome
        if 200 <= status < 300:
            return _whole("complete", str(status), None)
        retry = status in (408, 429) or status >= 500
        return _whole(
            "batch_retry" if retry else "batch_failed",
            f"HTTP{status}",
            int(retry_after) if retry_after is not None else None,
        )

    def _settles(self, outcome: DeliveryOutcome, count: int) -> list[_Settle]:
        kind = outcome.outcome
        if kind in ("complete", "pending"):
            by_index = {r.index: r for r in outcome.records}
            return [
                _Settle(
                    "accepted",
                    outcome.code,
                    record_id=by_index[i].record_id if i in by_index else None,
                )
                for i in range(count)
            ]
        if kind == "partial":
            by_index = {r.index: r for r in outcome.records}
            return [
                _Settle(
                    by_index[i].status if i in by_index else "retry",
                    by_index[i].code if i in by_index else outcome.code,
                    f"{self.system} {self.message}: "
                    + (
                        f"the peer refused record {i + 1} of {count} with code "
                        f"{by_index[i].code or outcome.code}"
                        if i in by_index
                        else f"record {i + 1} of {count} unanswered"
                    ),
                    by_index[i].record_id if i in by_index else None,
                )
                for i in range(count)
            ]
        if kind == "batch_retry":
            return [
                _Settle(
                    "retry",
                    outcome.code,
                    "the peer asked to retry",
                    retry_after=outcome.retry_after_s,
                )
            ] * count
        return [_Settle("rejected", outcome.code, f"{kind} (code {outcome.code})")] * count

    # --- settling ---------------------------------------------------------------------------

    def _settle(
        self,
        item: Message,
        envelope: Any,
        settle: _Settle,
        delay: float,
        requeue: list[OutMessage],
        again: str | None = None,
    ) -> Disposition:
        """Settle one message; a retry is appended to ``requeue`` (published by the caller),
        marked with ``again`` when its whole call is to be sent again as the same call."""
        if settle.status == "accepted":
            self._release(envelope)
            if settle.reason != "already delivered":
                self._delivered.append(envelope.message_id)
                self._audit(
                    "delivered", envelope, {"code": settle.code, "record_id": settle.record_id}
                )
            return ACK
        history = [
            *attempts_of(item),
            {"at": now().isoformat(), "error": settle.reason[:300], "code": settle.code},
        ]
        if settle.status == "retry" and len(history) < self.policy.attempts:
            requeue.append(item.forward(**{ATTEMPTS: json.dumps(history), CALL: again or ""}))
            if self.ordered and envelope.case_code:
                hold = self._held.setdefault(envelope.case_code, _Hold())
                hold.line.setdefault(envelope.message_id, None)  # keeps its place if it had one
                clock = time.monotonic()
                hold.due = max(hold.due, clock + delay)
                hold.until = max(hold.until, clock + delay + max(60.0, 4 * delay))
            self._audit(
                "retried",
                envelope,
                {"code": settle.code, "attempt": len(history), "delay_s": round(delay, 3)},
            )
            return ACK
        self._release(envelope)
        self.services.dead_letters.put(
            DeadLetter(
                system=self.system,
                message_type=self.message,
                stage="delivery",
                reason=settle.reason or f"refused with code {settle.code}",
                rule=settle.code,
                body=item.body,
                route=self.plan.route,
                destination=self.plan.key,
                source_message_id=envelope.source_message_id,
                message_id=envelope.message_id,
                case_code=envelope.case_code,
                attempts=tuple(Attempt.model_validate(a) for a in history),
                headers={k: v for k, v in item.headers.items() if v is not None},
            )
        )
        self._audit("dead_lettered", envelope, {"code": settle.code, "attempts": len(history)})
        return ACK

    def _postpone(self, batch: list[Message], wait: float, why: str) -> list[Disposition]:
        self.services.bus.publish(self.queue, [m.forward() for m in batch], delay_s=wait)
        log.info(
            "postponed", destination=self.name, messages=len(batch), why=why, delay_s=round(wait, 1)
        )
        return [ACK] * len(batch)

    def _audit(self, kind: str, envelope: Any, detail: dict[str, Any]) -> None:
        """Collect an audit event; ``_flush`` writes a call's events in one transaction."""
        self._events.append(
            AuditEvent(
                kind=kind,
                system=self.system,
                message_type=self.message,
                route=self.plan.route,
                destination=self.plan.key,
                message_id=envelope.message_id,
                source_message_id=envelope.source_message_id,
                case_code=envelope.case_code,
                detail=detail,
            )
        )


def _no_sequence() -> int:
    """The sequence of a call of an adapter that numbers none (``CallContext.sequence``)."""
    return 1


def _whole(kind: Any, code: str, retry_after: int | None) -> DeliveryOutcome:
    return DeliveryOutcome(outcome=kind, code=code, retry_after_s=retry_after, records=[])


def _retry_after(answer: RawMessage) -> float | None:
    value = answer.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
