"""Lookups: the ``enrich`` step of a route, run on its own durable queue.

A route's ``enrich`` step (``runner.routes.EnrichSpec``) hands each message to the queue
``ebus.deliver.<route>.<lookup key>``: a lookup is an outbound call of a system, so it is
isolated, retried, broken and dead-lettered like a destination (and ``ebus dlq replay`` puts
its dead letters back on that queue). Per message the ``LookupWorker``:

1. builds the request item: the adapter input the step's ``input`` makes of the envelope, or
   the envelope itself;
2. renders it with the system's outbound mapping, frames it and sends it on the shared
   connection, with quick in-process retries (tenacity);
3. reads the answer with the response mapping: canonical envelopes (data), ``not_found``, or a
   delivery outcome that asks to retry (``batch_retry``, ``refresh_token``, ``pending``) or
   refuses the lookup;
4. ``emit``: stamps the answer's envelopes (message id claimed per source message id, causation
   = this message) and runs the rest of the route over each; ``merge``: writes the answer's
   values into the envelope, validates it again and runs the rest of the route over it.

What happens to a message, by the step's ``on_unavailable``:

============================================  ==================================  =============
failure                                       ``wait`` (default)                  ``pass``
============================================  ==================================  =============
system down, timeout, 5xx, ``batch_retry``,   requeued with a durable delay       goes on at
an answer with no result for the message      (exponential, capped, or the peer's once, marked
                                              ``Retry-After``); dead-lettered     unenriched
                                              after ``retry.attempts`` tries
breaker open (``breaker.failures`` in a row)  held for the cooldown, no attempt   same as above
                                              spent
``not_found``                                 merge: goes on unenriched; emit: nothing to
                                              emit, the message ends here
request not renderable, answer refused        dead-lettered with its reason (system, message,
(unmappable, ``batch_failed``, a merge that   field, rule), whatever ``on_unavailable`` says
makes an invalid envelope)
============================================  ==================================  =============

"Marked unenriched" is the header ``x-ebus-unenriched`` on what it publishes and a ``routed``
audit event naming the lookup and the code: the canonical envelope itself is never changed.

Example (a route step)::

    - enrich:
        system: joint_punishment
        message: dishonest_query
        input: "{request_id: message_id, agency: payload.agency, scene: 'penalty',
                 subjects: [{party: payload.parties[0], case_code: case_code}]}"
        emit: enforcement.dishonest_check.v1
        retry: {attempts: 20, max_delay: 10m}
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from runner.adapter_api import AdapterConfig, AdapterSpec, CallContext, Outgoing, RawMessage
from runner.bus import ACK, Disposition, HeaderValue, Message, OutMessage
from runner.engine.breaker import CircuitBreaker
from runner.engine.codec import ATTEMPTS
from runner.engine.plan import LookupPlan, RoutePlan, revalidate, with_field
from runner.engine.retrying import attempts_of, retry_delay
from runner.engine.services import Services
from runner.engine.steps import ALLOWED, STEP, UNENRICHED, Forward, Outbox, dispatch, envelope_event
from runner.errors import DeliveryError, MessageRejected, PermanentError, TransientError
from runner.logs import get_logger
from runner.stamp import now, stamp
from runner.stores.audit import AuditEvent
from runner.stores.dead_letters import Attempt, DeadLetter
from schemas.envelope import Envelope, EnvelopeDraft

__all__ = [
    "Answer",
    "Fate",
    "LookupWorker",
    "Stamper",
    "read_answer",
    "render_call",
    "request_item",
    "results_of",
    "settle",
]

log = get_logger("ebus.lookups")

_RETRY_OUTCOMES = frozenset({"batch_retry", "refresh_token", "pending"})


@dataclass(frozen=True)
class Answer:
    """A lookup's answer as the route uses it: the canonical drafts it holds (records that
    could not be mapped in ``rejected``), or ``not_found``."""

    drafts: tuple[EnvelopeDraft[Any], ...] = ()
    rejected: tuple[MessageRejected, ...] = ()
    not_found: bool = False


Stamper = Callable[[Sequence[EnvelopeDraft[Any]]], list[Envelope[Any]]]
"""Turns an answer's drafts into published envelopes (message ids claimed, causation set)."""


# --- one lookup, no I/O: shared by the worker and the config tests ----------------------------


def request_item(lookup: LookupPlan, view: dict[str, Any]) -> Any:
    """What the lookup's mapping renders: the adapter input ``input`` builds, or the envelope."""
    if lookup.input is None:
        return view
    item = lookup.input.search(view)
    if not isinstance(item, dict):
        raise MessageRejected(
            "the lookup input does not make an object of this message",
            system=lookup.spec.system,
            message=lookup.spec.message,
            field="input",
            rule="lookup_input",
        )
    return item


def render_call(
    adapter: AdapterSpec, lookup: LookupPlan, item: Any, config: AdapterConfig, call: CallContext
) -> tuple[bytes, Outgoing]:
    """The rendered request of one lookup and its framed call (``MessageRejected`` when the
    request cannot be made)."""
    message = lookup.spec.message
    variables = dict(adapter.variables(message, config, call)) if adapter.variables else {}
    document = lookup.request.render([item], variables)
    return document, adapter.outgoing(message, document, config, call)


def read_answer(
    adapter: AdapterSpec, lookup: LookupPlan, raw: RawMessage, config: AdapterConfig
) -> Answer:
    """The answer to one lookup. ``TransientError``: ask again later (the outcome says retry,
    or the answer holds nothing for this message); ``PermanentError``: the system refused the
    lookup; ``MessageRejected``: the answer cannot be read (it names field and rule)."""
    spec = lookup.spec
    response = lookup.answer.message
    try:
        result = lookup.answer.apply(adapter.inbound(response, raw, config))
    except MessageRejected as exc:
        raise exc.located(system=spec.system, message=response) from None
    where = f"{spec.system} {spec.message}"
    outcome = result.outcome
    if outcome is not None:
        if outcome.outcome == "not_found":
            return Answer(not_found=True)
        if outcome.outcome in _RETRY_OUTCOMES:
            raise TransientError(
                f"{where}: the system asks to look up again later ({outcome.outcome})",
                code=outcome.code,
                retry_after=outcome.retry_after_s,
            )
        raise PermanentError(
            f"{where}: the system refused the lookup ({outcome.outcome}, code {outcome.code})",
            code=outcome.code,
        )
    rejected = tuple(r.located(system=spec.system, message=response) for r in result.rejected)
    if not result.envelopes:
        if rejected:
            raise rejected[0]
        raise TransientError(f"{where}: the answer holds no result for it", code="no_result")
    return Answer(tuple(result.envelopes), rejected)


def results_of(
    lookup: LookupPlan, view: dict[str, Any], answer: Answer, stamper: Stamper
) -> list[Envelope[Any]]:
    """What goes on down the route after the answer: the answer's envelopes (``emit``), or
    the envelope with the answer's first envelope merged into it (``merge``)."""
    if lookup.spec.emit is not None:
        return stamper(answer.drafts)
    source = answer.drafts[0].to_json_dict()
    merged = view
    for path, expression in lookup.merge:
        merged = with_field(merged, path, expression.search(source))
    try:
        return [revalidate(merged)]
    except MessageRejected as exc:
        exc.reason = f"the merged answer makes an invalid envelope: {exc.reason}"
        raise exc.located(system=lookup.spec.system, message=lookup.spec.message) from None


@dataclass(frozen=True)
class Fate:
    """What becomes of a message at its lookup.

    ``results``: the envelopes that go on (``error`` is then a record of the answer that could
    not be read, dead-lettered besides); ``unenriched``: it goes on without the answer (``code``
    says why); ``retry``: ask again later (``error`` is the ``TransientError``); ``dead``:
    dead-letter it with ``error``; ``end``: nothing goes on (an emitting lookup found nothing).
    """

    kind: Literal["results", "unenriched", "retry", "dead", "end"]
    results: tuple[Envelope[Any], ...] = ()
    error: MessageRejected | DeliveryError | None = None
    code: str | None = None


def settle(
    lookup: LookupPlan, view: dict[str, Any], ask: Callable[[], Answer], stamper: Stamper
) -> Fate:
    """The fate of ``view`` at ``lookup``, ``ask`` making the call (the bus's connection, or a
    config test's recorded answer)."""
    try:
        answer = ask()
    except TransientError as exc:
        if lookup.spec.on_unavailable == "pass":
            return Fate("unenriched", error=exc, code=exc.code)
        return Fate("retry", error=exc, code=exc.code)
    except (PermanentError, MessageRejected) as exc:
        return Fate("dead", error=exc)
    if answer.not_found:
        return Fate("end" if lookup.spec.emit is not None else "unenriched", code="not_found")
    try:
        results = results_of(lookup, view, answer, stamper)
    except MessageRejected as exc:
        return Fate("dead", error=exc)
    return Fate("results", tuple(results), answer.rejected[0] if answer.rejected else None)


# --- the worker -------------------------------------------------------------------------------


@dataclass
class _Batch:
    """What one batch publishes: the outbox, and messages put back with their delays."""

    outbox: Outbox
    later: dict[float, list[OutMessage]]


class LookupWorker:
    """Runs one ``enrich`` step of one route over its queue (see the module docstring)."""

    def __init__(self, services: Services, plan: RoutePlan, lookup: LookupPlan) -> None:
        self.services = services
        self.plan = plan
        self.lookup = lookup
        self.spec = lookup.spec
        self.system = lookup.spec.system
        self.adapter = services.project.registry.get(self.system)
        self.breaker = CircuitBreaker(self.spec.breaker.failures, self.spec.breaker.cooldown)
        self.name = f"{plan.route.id}/{lookup.key}"

    def __call__(self, batch: list[Message]) -> list[Disposition]:
        """Handle one batch (the bus handler)."""
        work = _Batch(Outbox(), defaultdict(list))
        for item in batch:
            self._handle(item, work)
        work.outbox.send(self.services)
        for delay, messages in work.later.items():
            self.services.bus.publish(self.lookup.queue, messages, delay_s=delay)
        log.info("lookup batch", lookup=self.name, size=len(batch))
        return [ACK] * len(batch)

    def _handle(self, item: Message, work: _Batch) -> None:
        view = json.loads(item.body)
        wait = self.breaker.wait_s()
        if wait > 0 and self.spec.on_unavailable == "wait":
            work.later[wait + 0.01].append(item.forward())  # held: no attempt spent
            return
        if wait > 0:
            fate = Fate("unenriched", code="breaker_open")
        else:
            fate = settle(self.lookup, view, lambda: self._ask(view), self._stamper(view, work))
            if isinstance(fate.error, TransientError):
                self.breaker.failure()
        if fate.kind == "results":
            for envelope in fate.results:
                routed = self.plan.run(
                    envelope.model_dump(mode="json"),
                    envelope=envelope,
                    start=self.lookup.index + 1,
                    allowed=_allowed(item),
                )
                dispatch(self.services, self.plan, routed, work.outbox, self._forward(item))
            self._audit(work, "routed", view, {"results": [e.message_id for e in fate.results]})
        elif fate.kind == "unenriched":
            self._unenriched(item, view, fate.code, work)
        elif fate.kind == "end":
            self._audit(work, "routed", view, {"results": [], "code": fate.code})
        elif fate.kind == "retry":
            assert isinstance(fate.error, TransientError)
            self._retry(item, view, fate.error, work)
        if fate.kind in ("dead", "results") and fate.error is not None:
            self._dead(item, view, fate.error, work)  # a refusal, or a record of the answer

    # --- the call -------------------------------------------------------------------------

    def _ask(self, view: dict[str, Any]) -> Answer:
        config = self.services.config(self.system)
        item = request_item(self.lookup, view)
        connection = self.services.connection(self.system)
        retrying = Retrying(
            stop=stop_after_attempt(self.spec.retry.in_process + 1),
            wait=wait_random_exponential(multiplier=0.2, max=self.spec.retry.in_process_max),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                call = CallContext(now=now(), nonce=uuid.uuid4().hex, sequence=self._sequence())
                _, outgoing = render_call(self.adapter, self.lookup, item, config, call)
                raw = connection.send(outgoing)
                try:
                    answer = read_answer(self.adapter, self.lookup, raw, config)
                except (PermanentError, MessageRejected):
                    self.breaker.success()  # the system answered: it is up
                    raise
        self.breaker.success()
        return answer

    def _sequence(self) -> int:
        """A call number for adapters whose calls carry one (``variables``), else 1."""
        return self.services.sequences.next(self.system) if self.adapter.variables else 1

    def _stamper(self, view: dict[str, Any], work: _Batch) -> Stamper:
        def stamper(drafts: Sequence[EnvelopeDraft[Any]]) -> list[Envelope[Any]]:
            claims = self.services.idempotency.claim_many(
                [(d.source_system, d.source_message_id) for d in drafts]
            )
            received = now()
            envelopes = []
            for draft, claim in zip(drafts, claims, strict=True):
                envelope = stamp(
                    draft,
                    message_id=claim.message_id,
                    received_at=received,
                    causation_id=view.get("message_id"),
                )
                envelopes.append(envelope)
                detail = {
                    "schema": envelope.schema_name,
                    "classification": envelope.classification,
                    "first_time": claim.first_time,
                    "lookup": self.lookup.key,
                }
                work.outbox.events.append(
                    envelope_event("mapped", envelope.model_dump(mode="json"), detail, self.plan)
                )
            return envelopes

        return stamper

    # --- fates ----------------------------------------------------------------------------

    def _forward(self, item: Message) -> Forward:
        """The message as it came, without the headers of its stay on this queue."""
        kept = {k: v for k, v in item.headers.items() if k not in (ATTEMPTS, STEP, ALLOWED)}

        def forward(**headers: HeaderValue) -> OutMessage:
            return OutMessage(item.body, {**kept, **headers}, item.message_id)

        return forward

    def _unenriched(
        self, item: Message, view: dict[str, Any], code: str | None, work: _Batch
    ) -> None:
        """Let the message go on without this lookup's answer, marked (``pass``, not found)."""
        marks = [str(item.headers.get(UNENRICHED) or ""), self.lookup.key]
        mark: dict[str, HeaderValue] = {UNENRICHED: ",".join(m for m in marks if m)}
        routed = self.plan.run(view, start=self.lookup.index + 1, allowed=_allowed(item))
        sent = dispatch(self.services, self.plan, routed, work.outbox, self._forward(item), mark)
        self._audit(work, "routed", view, {"unenriched": code, "to": sent})
        log.info("unenriched", lookup=self.name, code=code)

    def _retry(
        self, item: Message, view: dict[str, Any], error: TransientError, work: _Batch
    ) -> None:
        """Put the message back with a durable delay, or dead-letter it when its tries are
        spent (``retry.attempts``)."""
        history = [*attempts_of(item), _attempt(error, error.code)]
        policy = self.spec.retry
        if len(history) >= policy.attempts:
            self._dead(item, view, error, work, history)
            return
        delay = (
            error.retry_after
            if error.retry_after is not None
            else retry_delay(policy, len(history))
        )
        work.later[delay].append(item.forward(**{ATTEMPTS: json.dumps(history)}))
        detail = {"code": error.code, "attempt": len(history), "delay_s": round(delay, 3)}
        self._audit(work, "retried", view, detail)

    def _dead(
        self,
        item: Message,
        view: dict[str, Any],
        error: MessageRejected | DeliveryError,
        work: _Batch,
        history: list[dict[str, Any]] | None = None,
    ) -> None:
        """Dead-letter the message with the reason of ``error``: a replay looks it up again."""
        code = error.rule if isinstance(error, MessageRejected) else error.code
        history = history or [*attempts_of(item), _attempt(error, code)]
        letter = DeadLetter.from_error(
            error,
            stage="delivery",
            body=item.body,
            system=self.system,
            message_type=self.spec.message,
            headers={k: v for k, v in item.headers.items() if v is not None and k != ATTEMPTS},
            attempts=[Attempt.model_validate(a) for a in history],
            route=self.plan.route.id,
            destination=self.lookup.key,
            source_message_id=view.get("source_message_id"),
            message_id=view.get("message_id"),
            case_code=view.get("case_code"),
        )
        # the peer's code is the rule a person acts on, as for a destination's dead letters
        self.services.dead_letters.put(letter.model_copy(update={"rule": code or letter.rule}))
        self._audit(work, "dead_lettered", view, {"code": code, "attempts": len(history)})
        log.warning("lookup dead-lettered", lookup=self.name, code=code)

    def _audit(self, work: _Batch, kind: str, view: dict[str, Any], detail: dict[str, Any]) -> None:
        work.outbox.events.append(
            AuditEvent(
                kind=kind,
                system=self.system,
                message_type=self.spec.message,
                route=self.plan.route.id,
                destination=self.lookup.key,
                message_id=view.get("message_id"),
                source_message_id=view.get("source_message_id"),
                case_code=view.get("case_code"),
                detail=detail,
            )
        )


def _attempt(error: Exception, code: str | None) -> dict[str, Any]:
    return {"at": now().isoformat(), "error": str(error)[:300], "code": code}


def _allowed(item: Message) -> frozenset[str] | None:
    """The destination keys a choice before the lookup left (None: all of them)."""
    raw = item.headers.get(ALLOWED)
    return frozenset(json.loads(str(raw))) if raw else None
