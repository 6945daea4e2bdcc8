"""The feed route worker: canonical messages from a feed, out to a route's system destinations.

A route ``from: {feed: <schema>}`` has its own queue ``ebus.route.<route id>`` bound to that
feed on the canonical exchange. For each batch the worker runs the route's steps over every
envelope and publishes it (unchanged, or its split parts) to the destinations it reaches or to
the queue of the route's first lookup (confirmed), audits where it went, and only then
acknowledges the batch. A route from a feed never sends to that same feed.
"""

from __future__ import annotations

import json

from runner.bus import ACK, Disposition, Message
from runner.engine.plan import RoutePlan
from runner.engine.services import Services
from runner.engine.steps import Outbox, dispatch, envelope_event
from runner.logs import get_logger

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
        outbox = Outbox()
        for item in batch:
            view = json.loads(item.body)
            sent_to = dispatch(self.services, self.plan, self.plan.run(view), outbox, item.forward)
            outbox.events.append(
                envelope_event("routed", view, {"route": self.route, "to": sent_to})
            )
        outbox.send(self.services)
        log.info("feed batch", route=self.route, size=len(batch))
        return [ACK] * len(batch)
