"""The feed route worker: canonical messages from a feed, out to a route's system destinations.

A route ``from: {feed: <schema>}`` has its own queue ``ebus.route.<route id>`` bound to that
feed on the canonical exchange. For each batch the worker runs the route's steps over every
envelope and publishes it, unchanged, to the delivery queues of the destinations it selects
(confirmed), audits where it went, and only then acknowledges the batch.
"""

from __future__ import annotations

import json
from collections import defaultdict

from runner.bus import ACK, Disposition, Message, OutMessage
from runner.engine.codec import DESTINATION, ROUTE
from runner.engine.plan import RoutePlan
from runner.engine.services import Services
from runner.logs import get_logger
from runner.stores.audit import AuditEvent

__all__ = ["FeedRouteWorker"]

log = get_logger("ebus.feed")


class FeedRouteWorker:
    """Runs one feed route over the envelopes of its route queue."""

    def __init__(self, services: Services, plan: RoutePlan) -> None:
        self.services = services
        self.plan = plan
        self.route = plan.route.id

    def __call__(self, batch: list[Message]) -> list[Disposition]:
        """Handle one batch (the bus handler)."""
        by_queue: dict[str, list[OutMessage]] = defaultdict(list)
        events: list[AuditEvent] = []
        for item in batch:
            view = json.loads(item.body)
            sent_to = []
            for destination in self.plan.select(view):
                assert destination.queue is not None  # a feed route sends to systems only
                by_queue[destination.queue].append(
                    item.forward(**{ROUTE: self.route, DESTINATION: destination.key})
                )
                sent_to.append(f"{self.route}/{destination.key}")
            events.append(
                AuditEvent(
                    kind="routed",
                    system=str(view.get("source_system") or "?"),
                    message_type=str(view.get("schema") or "?"),
                    message_id=view.get("message_id"),
                    source_message_id=view.get("source_message_id"),
                    case_code=view.get("case_code"),
                    detail={"route": self.route, "to": sent_to},
                )
            )
        for queue, messages in by_queue.items():
            self.services.bus.publish(queue, messages)
        self.services.audit.append_many(events)
        log.info("feed batch", route=self.route, size=len(batch))
        return [ACK] * len(batch)
