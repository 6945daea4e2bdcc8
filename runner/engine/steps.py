"""Where the results of a route's steps go: messages to publish and audit events to append.

The inbound worker, the feed route worker and the lookup worker all run ``RoutePlan.run`` and
hand its results here. A result reaches its destinations (a feed, a delivery queue) or waits on
its lookup's queue; a split part that is not a valid envelope is dead-lettered with its reason.
Nothing is sent here: the worker publishes the ``Outbox`` (confirmed), appends its events, and
only then acknowledges its batch (store, then ack).

Headers the steps add to what they publish:

- ``x-ebus-step``: on a lookup queue, the index of the ``enrich`` step the message waits for;
- ``x-ebus-allowed``: the destination keys a ``choice`` left it, as a JSON list (absent: all);
- ``x-ebus-unenriched``: the lookups it went past without their answer (``on_unavailable:
  pass``), comma-separated — the canonical envelope itself is never marked.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from runner.bus import HeaderValue, OutMessage
from runner.engine.codec import DESTINATION, ROUTE, encode_envelope
from runner.engine.plan import Routed, RoutePlan
from runner.engine.services import Services
from runner.logs import get_logger
from runner.stores.audit import AuditEvent
from runner.stores.dead_letters import DeadLetter

__all__ = ["ALLOWED", "STEP", "UNENRICHED", "Forward", "Outbox", "dispatch", "envelope_event"]

log = get_logger("ebus.steps")

STEP: Final = "x-ebus-step"
"""On a lookup queue: the index of the ``enrich`` step the message waits for."""
ALLOWED: Final = "x-ebus-allowed"
"""The destination keys the choices left a message, as a JSON list (absent: all of them)."""
UNENRICHED: Final = "x-ebus-unenriched"
"""The lookups a message went past without their answer, comma-separated."""

Forward = Callable[..., OutMessage]
"""The message as it came in, with the given headers added (``Message.forward`` and alike)."""


@dataclass
class Outbox:
    """What one batch publishes and records, collected before anything is sent."""

    by_target: dict[str, list[OutMessage]] = field(default_factory=lambda: defaultdict(list))
    events: list[AuditEvent] = field(default_factory=list)

    def send(self, services: Services) -> None:
        """Publish every message (confirmed), then append the audit events."""
        services.bus.publish_many(self.by_target)
        services.audit.record_many(self.events)


def dispatch(
    services: Services,
    plan: RoutePlan,
    results: list[Routed],
    outbox: Outbox,
    forward: Forward,
    marks: Mapping[str, HeaderValue] | None = None,
) -> list[str]:
    """Put every result of ``plan.run`` in ``outbox`` for where it goes, with ``marks`` added
    to its headers; return the ``route/key`` names the message itself went to unchanged. A new
    envelope (a part, a merged one) gets its own ``routed`` event."""
    sent: list[str] = []
    for result in results:
        if result.rejected is not None:
            _reject(services, plan, result, outbox)
            continue
        names = []
        for target, own in _targets(plan, result):
            headers = {**(marks or {}), **own}
            outbox.by_target[target].append(
                forward(**headers)
                if result.envelope is None
                else encode_envelope(result.envelope, **headers)
            )
            names.append(f"{plan.route.id}/{headers[DESTINATION]}")
        if result.envelope is None:
            sent += names
        else:
            outbox.events.append(
                envelope_event(
                    "routed", result.view, {"route": plan.route.id, "to": names}, route=plan
                )
            )
    return sent


def _targets(plan: RoutePlan, result: Routed) -> list[tuple[str, dict[str, HeaderValue]]]:
    lookup = result.lookup
    if lookup is not None:
        headers: dict[str, HeaderValue] = {
            ROUTE: plan.route.id,
            DESTINATION: lookup.key,
            STEP: lookup.index,
        }
        if result.allowed != plan.keys:
            headers[ALLOWED] = json.dumps(sorted(result.allowed))
        return [(lookup.queue, headers)]
    return [
        (str(d.feed_target or d.queue), {ROUTE: plan.route.id, DESTINATION: d.key})
        for d in result.destinations
    ]


def envelope_event(
    kind: str, view: Mapping[str, Any], detail: dict[str, Any], route: RoutePlan | None = None
) -> AuditEvent:
    """An audit event about the canonical message ``view`` (ids and schema; never a value)."""
    return AuditEvent(
        kind=kind,
        system=str(view.get("source_system") or "?"),
        message_type=str(view.get("schema") or "?"),
        route=route.route.id if route is not None else None,
        message_id=view.get("message_id"),
        source_message_id=view.get("source_message_id"),
        case_code=view.get("case_code"),
        detail={**detail, "causation_id": view.get("causation_id")},
    )


def _reject(services: Services, plan: RoutePlan, result: Routed, outbox: Outbox) -> None:
    """Dead-letter a split part that is not a valid envelope (the other parts go on)."""
    view = result.view
    assert result.rejected is not None
    error = result.rejected.located(
        system=str(view.get("source_system") or "?"), message=str(view.get("schema") or "?")
    )
    services.dead_letters.put(
        DeadLetter.from_error(
            error,
            stage="route",
            body=json.dumps(view, ensure_ascii=False).encode("utf-8"),
            route=plan.route.id,
            source_message_id=view.get("source_message_id"),
            message_id=view.get("message_id"),
            case_code=view.get("case_code"),
        )
    )
    outbox.events.append(
        envelope_event(
            "rejected",
            view,
            {"rule": error.rule, "field": error.field, "reason": error.reason[:300]},
            route=plan,
        )
    )
    log.warning("split part refused", route=plan.route.id, rule=error.rule, field=error.field)
