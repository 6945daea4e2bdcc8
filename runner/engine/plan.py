"""Routes compiled for the workers: what to do with each canonical message of a route.

A route compiles once into a tuple of small step callables (``filter``, ``choice``, ``split``)
and lookup plans (``enrich``); per message ``RoutePlan.run`` is a plain loop over them. It
returns where each result goes: to destinations, to a lookup's queue (an ``enrich`` step runs
on its own durable queue, ``runner.engine.lookups``, which resumes the loop after it), or nowhere
(a filter dropped it). A ``choice`` narrows the destinations a message may still reach; that
set travels with it through its lookups.

Split parts are new canonical messages: the source message id gets ``#part<n>``, the causation
id is the whole envelope's, and the message id derives from the whole envelope's (same time
part, the rest from a hash of route, step, message id and n), so a redelivery or replay of the
envelope gives its parts the same ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from ulid import ULID

from runner.bus.topology import (
    CANONICAL_EXCHANGE,
    QueueSpec,
    Topology,
    delivery_queue,
    feed_binding,
    inbound_queue,
    route_queue,
)
from runner.errors import MessageRejected
from runner.mapping.inbound import InboundMapping
from runner.mapping.outbound import OutboundMapping
from runner.mapping.rejection import validation_rejection
from runner.project import Project
from runner.routes import (
    ChoiceStep,
    Destination,
    EnrichSpec,
    FilterStep,
    Route,
    SplitSpec,
    SplitStep,
    compile_condition,
)
from schemas import ENVELOPES, PAYLOADS
from schemas.envelope import Envelope

__all__ = [
    "DestinationPlan",
    "LookupPlan",
    "RoutePlan",
    "Routed",
    "build_feed_plans",
    "build_plans",
    "part_id",
    "plan_of",
    "revalidate",
    "topology_of",
    "with_field",
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
class LookupPlan:
    """An ``enrich`` step compiled: its queue, its JMESPath expressions, the mapping that
    renders its request and the mapping that reads its answer."""

    route: str
    index: int
    spec: EnrichSpec
    queue: str
    input: Any | None
    merge: tuple[tuple[tuple[str, ...], Any], ...]
    request: OutboundMapping
    answer: InboundMapping

    @property
    def key(self) -> str:
        """The lookup's key within its route (its queue suffix, its dead letters' destination)."""
        return self.spec.key


@dataclass(frozen=True)
class Routed:
    """One result of running a route's steps over an envelope.

    ``envelope`` is None while the message is the one that came in (it can be forwarded as it
    is); a split part or a merged envelope carries its new ``Envelope``. Exactly one of
    ``destinations`` (at the end of the route; empty when a choice left none), ``lookup`` (it
    waits for that lookup first) or ``rejected`` (a part that is not a valid envelope) says
    what happens to it.
    """

    view: dict[str, Any]
    envelope: Envelope[Any] | None = None
    allowed: frozenset[str] = frozenset()
    destinations: tuple[DestinationPlan, ...] = ()
    lookup: LookupPlan | None = None
    rejected: MessageRejected | None = None


StepFn = Callable[[Routed], list[Routed]]
"""A compiled step: one message in, the messages that go on out (none when it drops it)."""


@dataclass(frozen=True)
class RoutePlan:
    """A route compiled: its steps in order, its lookups and its destinations."""

    route: Route
    steps: tuple[StepFn | LookupPlan, ...]
    destinations: tuple[DestinationPlan, ...]

    @property
    def keys(self) -> frozenset[str]:
        """Every destination key of the route."""
        return frozenset(d.key for d in self.destinations)

    @property
    def lookups(self) -> tuple[LookupPlan, ...]:
        """The route's lookups, in step order."""
        return tuple(s for s in self.steps if isinstance(s, LookupPlan))

    def run(
        self,
        view: dict[str, Any],
        *,
        envelope: Envelope[Any] | None = None,
        start: int = 0,
        allowed: frozenset[str] | None = None,
    ) -> list[Routed]:
        """Run the steps from index ``start`` over ``view`` (an envelope's JSON): until the end
        or the first lookup, for every part. ``allowed`` are the destination keys the choices
        before ``start`` left (all by default)."""
        items = [Routed(view, envelope, self.keys if allowed is None else allowed)]
        done: list[Routed] = []
        for step in self.steps[start:]:
            if isinstance(step, LookupPlan):
                return done + [replace(item, lookup=step) for item in items]
            following: list[Routed] = []
            for item in items:
                for result in step(item):
                    (done if result.rejected is not None else following).append(result)
            items = following
        return done + [
            replace(item, destinations=tuple(d for d in self.destinations if d.key in item.allowed))
            for item in items
        ]

    def select(self, view: dict[str, Any]) -> list[DestinationPlan]:
        """The destinations ``view`` reaches when no lookup stands in the way (each once)."""
        chosen = {d.key for r in self.run(view) for d in r.destinations}
        return [d for d in self.destinations if d.key in chosen]


# --- steps --------------------------------------------------------------------------------------


def _filter(condition: Any) -> StepFn:
    def step(item: Routed) -> list[Routed]:
        return [item] if condition.search(item.view) else []

    return step


def _choice(step: ChoiceStep) -> StepFn:
    branches = tuple(
        (compile_condition(b.when) if b.when else None, b.otherwise, frozenset(b.to))
        for b in step.choice
    )
    mentioned = frozenset().union(*(keys for _, _, keys in branches))

    def choose(item: Routed) -> list[Routed]:
        taken: frozenset[str] = frozenset()
        for condition, otherwise, keys in branches:
            if otherwise or (condition is not None and condition.search(item.view)):
                taken = keys
                break
        allowed = (item.allowed - mentioned) | (item.allowed & taken)
        return [replace(item, allowed=allowed)]

    return choose


@dataclass(frozen=True)
class _Split:
    """One envelope into one part per selected item (see ``SplitSpec``)."""

    each: Any
    path: tuple[str, ...]
    salt: str

    def __call__(self, item: Routed) -> list[Routed]:
        found = self.each.search(item.view)
        values = found if isinstance(found, list) else ([] if found is None else [found])
        as_list = isinstance(_get(item.view, self.path), list)
        parent = str(item.view.get("message_id") or "")
        source = item.view.get("source_message_id")
        parts = []
        for n, value in enumerate(values, start=1):
            try:
                view = with_field(item.view, self.path, [value] if as_list else value)
                view |= {
                    "message_id": part_id(parent, self.salt, n),
                    "source_message_id": f"{source}#part{n}",
                    "causation_id": parent,
                }
                envelope = revalidate(view)
            except MessageRejected as exc:
                exc.reason = f"split part {n} of {len(values)}: {exc.reason}"
                parts.append(replace(item, envelope=None, rejected=exc))
                continue
            parts.append(Routed(envelope.model_dump(mode="json"), envelope, item.allowed))
        return parts


def part_id(parent: str, salt: str, n: int) -> str:
    """The message id of part ``n`` of message ``parent``: a ULID with the parent's time and
    the rest from a hash, so the same envelope always splits into the same ids."""
    try:
        head = ULID.from_str(parent).bytes[:6]
    except ValueError:
        raise MessageRejected(
            "a message without a message id cannot be split", field="message_id", rule="split"
        ) from None
    digest = hashlib.sha256(f"{salt}|{parent}|{n}".encode()).digest()
    return str(ULID.from_bytes(head + digest[:10]))


def _get(view: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = view
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def with_field(view: Mapping[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``view`` with the field at ``path`` set to ``value`` (the objects along the
    path copied, the rest shared); a path through a null or a list is refused."""
    out = dict(view)
    node = out
    for depth, key in enumerate(path[:-1]):
        child = node.get(key)
        if not isinstance(child, Mapping):
            raise MessageRejected(
                "there is no object to write into",
                field=".".join(path[: depth + 1]),
                rule="no_such_object",
            )
        node[key] = dict(child)
        node = node[key]
    node[path[-1]] = value
    return out


def revalidate(view: Mapping[str, Any]) -> Envelope[Any]:
    """``view`` validated again as a published envelope of its schema, its classification
    computed from its (changed) payload; a failure names field and rule, never the value."""
    name = str(view.get("schema"))
    if name not in ENVELOPES:
        raise MessageRejected(f"'{name}' is not a canonical schema", field="schema", rule="schema")
    try:
        payload = PAYLOADS[name].model_validate(view.get("payload"))
    except ValidationError as exc:
        raise validation_rejection(exc, "payload") from None
    try:
        return ENVELOPES[name].model_validate(
            {**view, "payload": payload, "classification": payload.data_class}
        )
    except ValidationError as exc:
        raise validation_rejection(exc, "") from None


# --- compiling ----------------------------------------------------------------------------------


def _lookup(route: Route, index: int, spec: EnrichSpec, project: Project) -> LookupPlan:
    response = project.registry.get(spec.system).message(spec.message).response
    return LookupPlan(
        route=route.id,
        index=index,
        spec=spec,
        queue=delivery_queue(route.id, spec.key),
        input=compile_condition(spec.input) if spec.input else None,
        merge=tuple(
            (tuple(target.split(".")), compile_condition(source))
            for target, source in (spec.merge or {}).items()
        ),
        request=project.outbound_mapping(spec.system, spec.message),
        answer=project.inbound_mapping(spec.system, str(response)),
    )


def _split(route: Route, index: int, spec: SplitSpec) -> StepFn:
    return _Split(
        compile_condition(spec.each), tuple(spec.target.split(".")), f"{route.id}#{index}"
    )


def _plan(route: Route, project: Project) -> RoutePlan:
    steps: list[StepFn | LookupPlan] = []
    for index, step in enumerate(route.steps):
        if isinstance(step, FilterStep):
            steps.append(_filter(compile_condition(step.filter)))
        elif isinstance(step, ChoiceStep):
            steps.append(_choice(step))
        elif isinstance(step, SplitStep):
            steps.append(_split(route, index, step.split))
        else:
            steps.append(_lookup(route, index, step.enrich, project))
    destinations = tuple(
        DestinationPlan(
            route=route.id,
            destination=d,
            queue=None if d.feed else delivery_queue(route.id, d.key),
            feed_target=f"{CANONICAL_EXCHANGE}:{d.feed}" if d.feed else None,
        )
        for d in route.to
    )
    return RoutePlan(route, tuple(steps), destinations)


def build_plans(project: Project) -> dict[tuple[str, str], list[RoutePlan]]:
    """Route plans by the inbound message type they start from (routes from a system)."""
    plans: dict[tuple[str, str], list[RoutePlan]] = {}
    for route in project.routes.values():
        if route.source.feed is None:
            plans.setdefault(route.source.key, []).append(_plan(route, project))
    return plans


def build_feed_plans(project: Project) -> list[RoutePlan]:
    """Plans of the routes that start from a canonical feed (each has its own route queue)."""
    return [_plan(r, project) for r in project.routes.values() if r.source.feed is not None]


def plan_of(project: Project, route_id: str) -> RoutePlan:
    """The plan of one route (``KeyError`` when there is no such route)."""
    return _plan(project.routes[route_id], project)


def topology_of(
    plans: Mapping[tuple[str, str], list[RoutePlan]], feed_plans: Sequence[RoutePlan] = ()
) -> Topology:
    """The queues the plans need: one inbound queue per source, one per system destination
    and per lookup, and for a route from a feed its route queue bound to that feed. A queue on
    the way to an ordered destination has a single active consumer (``QueueSpec``)."""
    queues = [
        QueueSpec(inbound_queue(system, message), single_active=_ordered(route_plans))
        for (system, message), route_plans in plans.items()
    ]
    bindings = []
    for plan in [p for route_plans in plans.values() for p in route_plans] + list(feed_plans):
        queues += [
            QueueSpec(d.queue, single_active=d.destination.ordered)
            for d in plan.destinations
            if d.queue
        ]
        queues += [
            QueueSpec(lookup.queue, single_active=_ordered([plan])) for lookup in plan.lookups
        ]
    for plan in feed_plans:
        queue = route_queue(plan.route.id)
        queues.append(QueueSpec(queue, single_active=_ordered([plan])))
        bindings.append(feed_binding(str(plan.route.source.feed), queue))
    return Topology(queues=tuple(queues), bindings=tuple(bindings))


def inbound_queue_spec(project: Project, system: str, message: str) -> QueueSpec:
    """The inbound queue of ``system``/``message`` as ``ebus run`` declares it (for a channel
    that declares it before any runtime did, e.g. a batch run in a fresh process)."""
    name = inbound_queue(system, message)
    return QueueSpec(name, single_active=_ordered(build_plans(project).get((system, message), [])))


def _ordered(plans: Sequence[RoutePlan]) -> bool:
    """Whether any of ``plans`` sends to an ordered destination."""
    return any(d.destination.ordered for plan in plans for d in plan.destinations)
