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
canonical envelopes before the steps run. Steps are a closed vocabulary, run in order:

- ``filter`` drops a message whose condition is false;
- ``choice`` sends a message only to the destinations of the first branch whose ``when`` holds
  (``otherwise`` for the rest);
- ``split`` makes one envelope per item of a list (one per party of a case), each a canonical
  envelope of the route's schema with its own message id;
- ``enrich`` looks something up in another system (an outbound call with an answer) and either
  merges fields of the answer into the envelope or lets the answer's canonical messages go on
  in its place (``emit``); it runs on its own durable queue with retries and a breaker.

Conditions and selectors are JMESPath, never ``eval``. Every destination and every lookup has its
own queue, retry policy and circuit breaker.
"""

from __future__ import annotations

import re
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
    "STEP_KINDS",
    "Breaker",
    "ChoiceStep",
    "Destination",
    "EnrichSpec",
    "EnrichStep",
    "FilterStep",
    "RetryPolicy",
    "Route",
    "SplitSpec",
    "SplitStep",
    "compile_condition",
    "load_route",
]

STEP_KINDS = ("filter", "choice", "split", "enrich")
"""The step vocabulary, in the order the docs list it."""

_FIELD_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


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
    A ``schedule`` replaces the exponential delays where a spec fixes them: its delays in order,
    then ``max_delay`` for every further try (``{attempts: 28, schedule: [1m, 5m, 15m],
    max_delay: 1h}`` is "1, 5, 15 min, then hourly for 24 h").
    """

    attempts: Annotated[int, Field(ge=1)] = 10
    initial: Duration = 2.0
    max_delay: Duration = 1800.0
    schedule: tuple[Duration, ...] = ()
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


class SplitSpec(_Closed):
    """One envelope into several: one part per item ``each`` selects (JMESPath over the
    envelope); each part is a copy of the envelope whose field ``into`` holds that one item
    (a one-item list when the field is a list). ``into`` defaults to ``each`` when ``each`` is
    a plain field path. Every part is validated as an envelope of the route's schema."""

    each: str
    into: str | None = None

    @field_validator("each")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_condition(value)
        return value

    @model_validator(mode="after")
    def _target(self) -> SplitSpec:
        target = self.target
        if not _FIELD_PATH.fullmatch(target) or not target.startswith("payload."):
            raise ValueError(
                f"split into '{target}': name a payload field (payload.parties); "
                "a JMESPath 'each' needs 'into'"
            )
        return self

    @property
    def target(self) -> str:
        """The dotted field path each part carries its item in."""
        return self.into or self.each


class SplitStep(_Closed):
    """Split the envelope into parts (see ``SplitSpec``)::

    - split: payload.parties                     # one case per party
    - split: {each: "payload.parties[?kind == 'natural_person']", into: payload.parties}
    """

    split: SplitSpec

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("split"), str):
            return {**data, "split": {"each": data["split"]}}
        return data


class EnrichSpec(_Closed):
    """A lookup in another system before the message goes on.

    The lookup is the outbound message ``message`` of ``system``, whose answer (its message
    type's ``response``) maps to canonical envelopes. Its mapping renders the request from the
    envelope, or from the adapter input that ``input`` (a JMESPath over the envelope) builds.
    The answer is used in one of two ways:

    - ``emit: <schema>``: the answer's canonical messages (a 失信核查结果 per subject) go on down
      the route in place of the envelope, each with its own message id;
    - ``merge: {<payload field>: <JMESPath over the answer's envelope>}``: values of the answer
      are written into fields of the envelope, which is then validated again.

    While the system fails, ``on_unavailable`` decides: ``wait`` (the default) keeps the
    message durably, retried with ``retry`` and held while the ``breaker`` is open, and
    dead-lettered when the attempts are spent; ``pass`` lets it go on at once without the
    enrichment, marked ``x-ebus-unenriched`` (merge only: an emitting lookup has nothing to
    pass on). A refused lookup or answer is dead-lettered with its reason.
    """

    system: str
    message: str
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")] | None = None
    input: str | None = None
    emit: str | None = None
    merge: dict[str, str] | None = None
    on_unavailable: Literal["wait", "pass"] = "wait"
    retry: RetryPolicy = RetryPolicy()
    breaker: Breaker = Breaker()

    @field_validator("input")
    @classmethod
    def _input_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_condition(value)
        return value

    @model_validator(mode="after")
    def _one_result(self) -> EnrichSpec:
        if (self.emit is None) == (self.merge is None):
            raise ValueError("an enrich step either emits the answer or merges it, not both")
        if self.emit is not None and self.on_unavailable == "pass":
            raise ValueError("an emitting lookup has nothing to pass on: use on_unavailable: wait")
        for target, source in (self.merge or {}).items():
            if not _FIELD_PATH.fullmatch(target) or not target.startswith("payload."):
                raise ValueError(f"merge into '{target}': only payload fields can be merged into")
            compile_condition(source)
        return self

    @property
    def key(self) -> str:
        """The lookup's name within its route (its queue suffix)."""
        return self.name or f"lookup-{self.system}-{self.message}"


class EnrichStep(_Closed):
    """Look something up in another system (see ``EnrichSpec``)::

    - enrich:
        system: credit_fj
        message: subject_lookup_request
        input: "{uscc: payload.party.uscc}"
        merge: {payload.party.legal_representative: payload.party.legal_representative}
        on_unavailable: pass
    """

    enrich: EnrichSpec


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind in STEP_KINDS:
            if kind in value:
                return kind
    return None


Step = Annotated[
    Annotated[FilterStep, Tag("filter")]
    | Annotated[ChoiceStep, Tag("choice")]
    | Annotated[SplitStep, Tag("split")]
    | Annotated[EnrichStep, Tag("enrich")],
    Discriminator(
        _step_kind,
        custom_error_type="unknown_step",
        custom_error_message="a step is one of: " + ", ".join(STEP_KINDS),
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
        if self.source.feed is not None and any(d.feed == self.source.feed for d in self.to):
            raise ValueError("a route from a feed never sends to that feed (a feed → feed loop)")
        keys = [d.key for d in self.to]
        lookups = [s.enrich.key for s in self.steps if isinstance(s, EnrichStep)]
        names = keys + lookups
        repeated = {k for k in names if names.count(k) > 1}
        if repeated:
            raise ValueError(
                f"destinations or lookups named twice: {sorted(repeated)} (give them 'name')"
            )
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
            loc = tuple(error["loc"])
            if len(loc) > 2 and loc[0] == "steps" and loc[2] in STEP_KINDS:
                loc = loc[:2] + loc[3:]  # drop the union's tag; the step's own key stays
            place, key = _line_of(node, loc)
            if error["type"] == "missing" and loc:
                key = str(loc[-1])  # absent, so the line is its parent's
            hint = ""
            if error["type"] == "extra_forbidden":
                hint = did_you_mean(str(loc[-1]), _known_keys(loc))
            issues.append(Issue(place, key, error["msg"], str(error["type"]), hint))
        return None


_STEP_MODELS: dict[str, type[BaseModel]] = {
    "choice": Branch,
    "split": SplitSpec,
    "enrich": EnrichSpec,
}
_NESTED: dict[str, type[BaseModel]] = {"retry": RetryPolicy, "breaker": Breaker}


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where an unknown key ``loc[-1]`` stood (for "did you mean")."""
    if len(loc) == 1:
        return ["id", "description", "from", "steps", "to"]
    inner = [part for part in loc[:-1] if isinstance(part, str)]
    tops: dict[str, type[BaseModel]] = {"to": Destination, "from": Source}
    model = tops.get(str(loc[0]))
    if loc[0] == "steps":
        if len(loc) == 3:
            return list(STEP_KINDS)
        model = _STEP_MODELS.get(inner[1]) if len(inner) > 1 else None
    if inner and inner[-1] in _NESTED:
        model = _NESTED[inner[-1]]
    return list(model.model_fields) if model is not None else []


RouteKind = Literal["feed", "system"]
