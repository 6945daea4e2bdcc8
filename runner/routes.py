"""Declarative routes: from one inbound message type, through steps, to destinations and feeds.

A route file, ``routes/<route id>.yaml``::

    id: eco_env-penalties
    description: Environmental penalty decisions to 双公示 and the canonical feed.
    from: {system: eco_env, message: get_penalty_decision_response}   # or {feed: <schema>}
    steps:
      - filter: "payload.fine_amount_yuan != null"     # JMESPath over the canonical envelope
    to:
      - feed: enforcement.penalty_decision.v1
      - system: credit_fj
        message: penalty_push
        retry: {attempts: 10, initial: 2s, max_delay: 30m}
        ordered: true                                  # keep order per case_code

The mapping of ``from`` (``mappings/<system>/<message>.yaml``) turns each wire message into
canonical envelopes before the steps run. Steps are a closed vocabulary: ``filter`` drops a
message whose condition is false; ``choice`` sends a message only to the destinations of the
first branch whose ``when`` holds (``otherwise`` for the rest). Conditions are JMESPath, never
``eval``. Every destination has its own queue, retry policy and circuit breaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from runner.durations import Duration
from runner.mapping.rules import Issue, did_you_mean
from runner.yamlconf import LineDict, where

__all__ = [
    "Breaker",
    "ChoiceStep",
    "Destination",
    "FilterStep",
    "RetryPolicy",
    "Route",
    "compile_condition",
    "load_route",
]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def compile_condition(expression: str) -> Any:
    """Compile a JMESPath condition once; ``ValueError`` names the syntax problem."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"condition '{expression}' does not compile: {exc}") from None


class RetryPolicy(_Closed):
    """How a destination retries transient failures.

    ``in_process`` quick retries (tenacity, exponential backoff with jitter, capped at
    ``in_process_max``) happen first; then the message is requeued durably with exponential
    delay from ``initial`` up to ``max_delay`` until ``attempts`` tries in all, then dead-lettered.
    """

    attempts: Annotated[int, Field(ge=1)] = 10
    initial: Duration = 2.0
    max_delay: Duration = 1800.0
    in_process: Annotated[int, Field(ge=0)] = 2
    in_process_max: Duration = 2.0


class Breaker(_Closed):
    """A circuit breaker: after ``failures`` transient failures in a row the destination is not
    called for ``cooldown``; its messages wait durably meanwhile."""

    failures: Annotated[int, Field(ge=1)] = 5
    cooldown: Duration = 30.0


class Destination(_Closed):
    """One place a route sends to: a canonical feed, or an outbound message of a system."""

    feed: str | None = None
    system: str | None = None
    message: str | None = None
    name: str | None = None
    retry: RetryPolicy = RetryPolicy()
    breaker: Breaker = Breaker()
    ordered: bool = False
    batch: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Destination:
        if (self.feed is None) == (self.system is None):
            raise ValueError("a destination is either a feed or a system with a message")
        if self.system is not None and self.message is None:
            raise ValueError(f"destination system '{self.system}' needs a message")
        return self

    @property
    def key(self) -> str:
        """The destination's name within its route (its queue suffix)."""
        if self.name:
            return self.name
        if self.feed is not None:
            return "feed-" + self.feed.replace(".", "_")
        return f"{self.system}-{self.message}"


class FilterStep(_Closed):
    """Drop the message unless the JMESPath condition holds."""

    filter: str

    @field_validator("filter")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_condition(value)
        return value


class Branch(_Closed):
    """One branch of a choice: destinations (by key) taken when ``when`` holds."""

    when: str | None = None
    otherwise: bool = False
    to: list[str]

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_condition(value)
        return value


class ChoiceStep(_Closed):
    """Send the message only to the destinations of the first branch that holds."""

    choice: list[Branch]


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind in ("filter", "choice"):
            if kind in value:
                return kind
    return None


Step = Annotated[
    Annotated[FilterStep, Tag("filter")] | Annotated[ChoiceStep, Tag("choice")],
    Discriminator(
        _step_kind,
        custom_error_type="unknown_step",
        custom_error_message="a step is one of: filter, choice",
    ),
]


class Source(_Closed):
    """Where a route starts: an inbound message type of a system, or a canonical feed.

    A feed source (``from: {feed: enforcement.case_transfer.v1}``) takes every canonical
    message published to that feed, whichever system it came from — how canonical data made by
    one system (or by the bus itself) reaches the outbound calls of another.
    """

    system: str | None = None
    message: str | None = None
    feed: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        if self.feed is not None:
            if self.system is not None or self.message is not None:
                raise ValueError("a route starts from a feed or from a system's message, not both")
        elif self.system is None or self.message is None:
            raise ValueError("a route starts from {system, message} or from {feed}")
        return self

    @property
    def key(self) -> tuple[str, str]:
        """``(system, message)`` of an inbound source, ``("feed", <feed>)`` of a feed source."""
        if self.feed is not None:
            return ("feed", self.feed)
        return (str(self.system), str(self.message))


class Route(_Closed):
    """A route as written in ``routes/<id>.yaml``."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    description: str = ""
    source: Annotated[Source, Field(alias="from")]
    steps: list[Step] = Field(default_factory=list)
    to: Annotated[list[Destination], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_destinations(self) -> Route:
        if self.source.feed is not None and any(d.feed is not None for d in self.to):
            raise ValueError("a route from a feed sends to systems only (a feed → feed loop)")
        keys = [d.key for d in self.to]
        repeated = {k for k in keys if keys.count(k) > 1}
        if repeated:
            raise ValueError(f"destinations named twice: {sorted(repeated)} (give them 'name')")
        for step in self.steps:
            if isinstance(step, ChoiceStep):
                for branch in step.choice:
                    unknown = set(branch.to) - set(keys)
                    if unknown:
                        raise ValueError(f"choice names unknown destinations {sorted(unknown)}")
        return self


@dataclass
class LoadedRoute:
    """A route with the file it came from."""

    route: Route
    path: Path
    node: LineDict = field(repr=False)


def _line_of(node: Any, loc: tuple[int | str, ...]) -> tuple[str, str]:
    """The ``path:line`` and key of a pydantic error location inside the YAML tree."""
    current, key = node, "-"
    for part in loc:
        if isinstance(current, LineDict) and str(part) in current:
            key = str(part)
            parent, current = current, current[key]
            if not isinstance(current, LineDict | list):
                return where(parent, key), key
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            break
    return where(current if isinstance(current, LineDict) else node), key


def load_route(node: LineDict, issues: list[Issue]) -> Route | None:
    """Validate one route file; every problem is appended to ``issues`` with its line."""
    try:
        return Route.model_validate(dict(node))
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            loc = tuple(
                p for p in error["loc"] if p not in ("filter", "choice") or p == error["loc"][-1]
            )
            place, key = _line_of(node, loc)
            hint = ""
            if error["type"] == "extra_forbidden":
                known = _known_keys(loc)
                hint = did_you_mean(str(loc[-1]), known)
            issues.append(Issue(place, key, error["msg"], str(error["type"]), hint))
        return None


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    if len(loc) == 1:
        return ["id", "description", "from", "steps", "to"]
    if loc[0] == "to":
        return list(Destination.model_fields)
    if loc[0] == "steps":
        return ["filter", "choice"]
    return []


RouteKind = Literal["feed", "system"]
