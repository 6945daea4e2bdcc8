"""Routes compiled for the workers: what to do with each canonical message of an inbound type.

Conditions compile once here; per message the plan is a plain loop over compiled steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.bus.topology import (
    CANONICAL_EXCHANGE,
    QueueSpec,
    Topology,
    delivery_queue,
    feed_binding,
    inbound_queue,
    route_queue,
)
from runner.project import Project
from runner.routes import ChoiceStep, Destination, Route, compile_condition

__all__ = [
    "DestinationPlan",
    "RoutePlan",
    "build_feed_plans",
    "build_plans",
    "plan_of",
    "topology_of",
]


@dataclass(frozen=True)
class DestinationPlan:
    """One destination of one route, with its queue (None for a feed) or feed target."""

    route: str
    destination: Destination
    queue: str | None
    feed_target: str | None

    @property
    def key(self) -> str:
        """The destination's key within its route."""
        return self.destination.key


@dataclass(frozen=True)
class RoutePlan:
    """A route compiled: its filters, its choices and its destinations."""

    route: Route
    filters: tuple[Any, ...]
    choices: tuple[tuple[tuple[Any | None, bool, frozenset[str]], ...], ...]
    destinations: tuple[DestinationPlan, ...]

    def select(self, view: Mapping[str, Any]) -> list[DestinationPlan]:
        """The destinations ``view`` (an envelope's JSON) goes to; [] when a filter drops it."""
        if not all(condition.search(view) for condition in self.filters):
            return []
        chosen = {d.key for d in self.destinations}
        for branches in self.choices:
            taken: frozenset[str] = frozenset()
            for condition, otherwise, keys in branches:
                if otherwise or (condition is not None and condition.search(view)):
                    taken = keys
                    break
            mentioned = frozenset().union(*(keys for _, _, keys in branches))
            chosen = (chosen - mentioned) | (chosen & taken)
        return [d for d in self.destinations if d.key in chosen]


def _plan(route: Route) -> RoutePlan:
    filters = []
    choices = []
    for step in route.steps:
        if isinstance(step, ChoiceStep):
            choices.append(
                tuple(
                    (compile_condition(b.when) if b.when else None, b.otherwise, frozenset(b.to))
                    for b in step.choice
                )
            )
        else:
            filters.append(compile_condition(step.filter))
    destinations = tuple(
        DestinationPlan(
            route=route.id,
            destination=d,
            queue=None if d.feed else delivery_queue(route.id, d.key),
            feed_target=f"{CANONICAL_EXCHANGE}:{d.feed}" if d.feed else None,
        )
        for d in route.to
    )
    return RoutePlan(route, tuple(filters), tuple(choices), destinations)


def build_plans(project: Project) -> dict[tuple[str, str], list[RoutePlan]]:
    """Route plans by the inbound message type they start from (routes from a system)."""
    plans: dict[tuple[str, str], list[RoutePlan]] = {}
    for route in project.routes.values():
        if route.source.feed is None:
            plans.setdefault(route.source.key, []).append(_plan(route))
    return plans


def build_feed_plans(project: Project) -> list[RoutePlan]:
    """Plans of the routes that start from a canonical feed (each has its own route queue)."""
    return [_plan(r) for r in project.routes.values() if r.source.feed is not None]


def plan_of(project: Project, route_id: str) -> RoutePlan:
    """The plan of one route (``KeyError`` when there is no such route)."""
    return _plan(project.routes[route_id])


def topology_of(
    plans: Mapping[tuple[str, str], list[RoutePlan]], feed_plans: Sequence[RoutePlan] = ()
) -> Topology:
    """The queues the plans need: one inbound queue per source, one per system destination,
    and for a route from a feed its route queue bound to that feed."""
    queues = [QueueSpec(inbound_queue(system, message)) for system, message in plans]
    bindings = []
    for plan in [p for route_plans in plans.values() for p in route_plans] + list(feed_plans):
        queues += [QueueSpec(d.queue) for d in plan.destinations if d.queue]
    for plan in feed_plans:
        queue = route_queue(plan.route.id)
        queues.append(QueueSpec(queue))
        bindings.append(feed_binding(str(plan.route.source.feed), queue))
    return Topology(queues=tuple(queues), bindings=tuple(bindings))
