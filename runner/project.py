"""Loading the declarative config of a deployment: code tables, mappings (and routes).

``load_project(root)`` reads ``mappings/`` (and later ``routes/``) under ``root`` once, compiles
everything, and collects every problem as an ``Issue`` with file, line, key and hint, so that
``ebus lint`` can report them all at once and ``ebus run`` can refuse to start.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel

from runner.errors import ConfigError
from runner.mapping.codes import CodeTable, load_code_tables
from runner.mapping.fields import nested_model, wire_names
from runner.mapping.inbound import InboundMapping, compile_inbound
from runner.mapping.outbound import OutboundMapping, compile_outbound
from runner.mapping.rules import Issue, did_you_mean
from runner.mapping.transforms import TRANSFORMS
from runner.registry import Registry, default_registry
from runner.routes import EnrichSpec, EnrichStep, Route, SplitStep, load_route
from runner.yamlconf import LineDict, load_yaml, where
from schemas import ENVELOPES, PAYLOADS

__all__ = ["REPO_ROOT", "Project", "load_project"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Project:
    """The compiled config: code tables, inbound and outbound mappings by (system, message)."""

    root: Path
    registry: Registry
    codes: dict[str, CodeTable] = field(default_factory=dict)
    inbound: dict[tuple[str, str], InboundMapping] = field(default_factory=dict)
    outbound: dict[tuple[str, str], OutboundMapping] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def routes_from(self, system: str, message: str) -> list[Route]:
        """The routes that start from ``system``/``message``."""
        return [r for r in self.routes.values() if r.source.key == (system, message)]

    def inbound_mapping(self, system: str, message: str) -> InboundMapping:
        """The inbound mapping of ``system``/``message``; ``ConfigError`` when there is none."""
        mapping = self.inbound.get((system, message))
        if mapping is None:
            spec = self.registry.get(system)
            spec.message(message)  # raises KeyError with the known ids
            raise ConfigError(
                f"no inbound mapping for {system} {message} "
                f"(expected mappings/{system}/{message}.yaml)"
            )
        return mapping

    def outbound_mapping(self, system: str, message: str) -> OutboundMapping:
        """The outbound mapping of ``system``/``message``; ``ConfigError`` when there is none."""
        mapping = self.outbound.get((system, message))
        if mapping is None:
            self.registry.get(system).message(message)
            raise ConfigError(
                f"no outbound mapping for {system} {message} "
                f"(expected mappings/{system}/{message}.yaml)"
            )
        return mapping


def _load(path: Path, issues: list[Issue]) -> LineDict | None:
    try:
        data = load_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        issues.append(Issue(f"{path}:{line}", "-", f"not valid YAML: {exc}", "yaml_syntax"))
        return None
    if not isinstance(data, LineDict):
        issues.append(Issue(f"{path}:1", "-", "a mapping file holds a YAML mapping", "yaml_shape"))
        return None
    return data


def _check_identity(spec: LineDict, path: Path, project: Project) -> bool:
    system, message = spec.get("system"), spec.get("message")
    if path.parent.name != system or path.stem != message:
        project.issues.append(
            Issue(
                where(spec, "message"),
                "message",
                f"file mappings/{path.parent.name}/{path.name} declares {system} {message}",
                "mapping_location",
                f"name it mappings/{system}/{message}.yaml",
            )
        )
    if system not in project.registry:
        project.issues.append(
            Issue(
                where(spec, "system"),
                "system",
                f"unknown system '{system}'",
                "unknown_system",
                did_you_mean(str(system), project.registry.ids()),
            )
        )
        return False
    adapter = project.registry.get(str(system))
    known = [m.id for m in adapter.messages]
    if message not in known:
        project.issues.append(
            Issue(
                where(spec, "message"),
                "message",
                f"{system} has no message type '{message}'",
                "unknown_message",
                did_you_mean(str(message), known),
            )
        )
        return False
    return True


def _check_outputs(mapping: InboundMapping, spec: LineDict, project: Project) -> None:
    expected = project.registry.get(mapping.system).message(mapping.message).canonical
    produced = {o.schema for o in mapping.outputs}
    if expected == "delivery_outcome":
        if produced:
            project.issues.append(
                Issue(
                    where(spec, "outputs"),
                    "outputs",
                    f"{mapping.message} is an answer: it maps to a delivery "
                    "outcome, not canonical messages",
                    "wrong_schema",
                )
            )
    elif expected is not None and produced and expected not in produced:
        project.issues.append(
            Issue(
                where(spec, "outputs"),
                "outputs",
                f"{mapping.message} maps to {expected} per its spec, the "
                f"mapping produces {sorted(produced)}",
                "wrong_schema",
            )
        )


def load_project(root: Path = REPO_ROOT, registry: Registry | None = None) -> Project:
    """Load and compile the config under ``root``; problems are in ``project.issues``."""
    project = Project(root=root, registry=registry or default_registry())
    try:
        project.codes = load_code_tables(root / "mappings" / "codes")
    except ConfigError as exc:
        project.issues.append(Issue(str(exc).split(": ")[0], "values", str(exc), "code_table"))
    for path in sorted((root / "mappings").glob("*/*.yaml")):
        if path.parent.name == "codes" or path.name.endswith(".test.yaml"):
            continue
        spec = _load(path, project.issues)
        if spec is None or not _check_identity(spec, path, project):
            continue
        adapter = project.registry.get(str(spec["system"]))
        kind = adapter.message(str(spec["message"]))
        transforms = TRANSFORMS | {t.name: t for t in adapter.transforms}
        if kind.direction == "outbound":
            outbound = compile_outbound(spec, project.codes, project.issues, transforms)
            if outbound is not None:
                project.outbound[(outbound.system, outbound.message)] = outbound
            continue
        mapping = compile_inbound(spec, project.codes, project.issues, transforms)
        if mapping is not None:
            _check_outputs(mapping, spec, project)
            project.inbound[(mapping.system, mapping.message)] = mapping
    _load_routes(project)
    return project


def _load_routes(project: Project) -> None:
    for path in sorted((project.root / "routes").glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        node = _load(path, project.issues)
        if node is None:
            continue
        route = load_route(node, project.issues)
        if route is None:
            continue
        if path.stem != route.id:
            project.issues.append(
                Issue(
                    where(node, "id"),
                    "id",
                    f"route '{route.id}' is in {path.name}",
                    "route_location",
                    f"name it routes/{route.id}.yaml",
                )
            )
        if route.id in project.routes:
            project.issues.append(
                Issue(
                    where(node, "id"),
                    "id",
                    f"route id '{route.id}' is used twice",
                    "duplicate_route",
                )
            )
        if _check_route(project, route, node):
            project.routes[route.id] = route


def _check_route(project: Project, route: Route, node: LineDict) -> bool:
    """Cross-check a route against the adapters and mappings; True when it can run."""
    before = len(project.issues)
    source = node.get("from")
    system, message = route.source.key
    schema = None
    if route.source.feed is not None:
        schema = route.source.feed
        if schema not in ENVELOPES:
            project.issues.append(
                Issue(
                    where(source, "feed"),
                    "feed",
                    f"unknown feed '{schema}': a feed is named by its canonical schema",
                    "unknown_feed",
                    did_you_mean(schema, sorted(ENVELOPES)),
                )
            )
            schema = None
    elif system not in project.registry:
        project.issues.append(
            Issue(
                where(source, "system"),
                "system",
                f"unknown system '{system}'",
                "unknown_system",
                did_you_mean(system, project.registry.ids()),
            )
        )
    else:
        adapter = project.registry.get(system)
        known = [m.id for m in adapter.messages if m.direction == "inbound"]
        if message not in known:
            project.issues.append(
                Issue(
                    where(source, "message"),
                    "message",
                    f"{system} has no inbound message '{message}'",
                    "unknown_message",
                    did_you_mean(message, known),
                )
            )
        else:
            schema = adapter.message(message).canonical
            if (system, message) not in project.inbound:
                project.issues.append(
                    Issue(
                        where(source, "message"),
                        "message",
                        f"no mapping mappings/{system}/{message}.yaml",
                        "no_mapping",
                    )
                )
    schema = _check_steps(project, route, node, schema)
    targets = node.get("to") or []
    for index, destination in enumerate(route.to):
        place = targets[index] if index < len(targets) else node
        if destination.feed is not None:
            if schema is not None and destination.feed != schema:
                project.issues.append(
                    Issue(
                        where(place, "feed"),
                        "feed",
                        f"feed '{destination.feed}' does not carry {schema}, what this route sends",
                        "wrong_feed",
                        f"use feed: {schema}",
                    )
                )
            continue
        _check_destination(
            project, destination.system or "", destination.message or "", schema, place
        )
    return len(project.issues) == before


def _check_destination(
    project: Project, system: str, message: str, schema: str | None, place: object
) -> None:
    if system not in project.registry:
        project.issues.append(
            Issue(
                where(place, "system"),
                "system",
                f"unknown system '{system}'",
                "unknown_system",
                did_you_mean(system, project.registry.ids()),
            )
        )
        return
    adapter = project.registry.get(system)
    known = [m.id for m in adapter.messages if m.direction == "outbound"]
    if message not in known:
        project.issues.append(
            Issue(
                where(place, "message"),
                "message",
                f"{system} has no outbound message '{message}'",
                "unknown_message",
                did_you_mean(message, known),
            )
        )
        return
    mapping = project.outbound.get((system, message))
    if mapping is None:
        project.issues.append(
            Issue(
                where(place, "message"),
                "message",
                f"no mapping mappings/{system}/{message}.yaml",
                "no_mapping",
            )
        )
    elif schema is not None and schema not in mapping.sources:
        project.issues.append(
            Issue(
                where(place, "message"),
                "message",
                f"{system} {message} renders {', '.join(mapping.sources)}, "
                f"this route carries {schema}",
                "wrong_schema",
            )
        )


def _check_steps(project: Project, route: Route, node: LineDict, schema: str | None) -> str | None:
    """Cross-check the split and enrich steps; the schema the route carries after them."""
    places = node.get("steps") or []
    for index, step in enumerate(route.steps):
        place = places[index] if index < len(places) else node
        if isinstance(step, SplitStep):
            body = place.get("split")
            if isinstance(body, LineDict):
                key = "into" if step.split.into else "each"
                _check_field(project.issues, schema, step.split.target, body, key)
            else:
                _check_field(project.issues, schema, step.split.target, place, "split")
        elif isinstance(step, EnrichStep):
            body = place.get("enrich")
            schema = _check_enrich(
                project, step.enrich, schema, body if isinstance(body, LineDict) else place
            )
    return schema


def _check_enrich(
    project: Project, spec: EnrichSpec, schema: str | None, place: LineDict
) -> str | None:
    """Check one lookup; the schema the route carries after it (None when unknown)."""
    issues = project.issues
    if spec.system not in project.registry:
        issues.append(
            Issue(
                where(place, "system"),
                "system",
                f"unknown system '{spec.system}'",
                "unknown_system",
                did_you_mean(spec.system, project.registry.ids()),
            )
        )
        return None
    adapter = project.registry.get(spec.system)
    calls = [m.id for m in adapter.messages if m.direction == "outbound" and m.response]
    if spec.message not in calls:
        issues.append(
            Issue(
                where(place, "message"),
                "message",
                f"{spec.system} has no outbound call '{spec.message}' with an answer",
                "unknown_message",
                did_you_mean(spec.message, calls),
            )
        )
        return None
    response = adapter.message(str(adapter.message(spec.message).response))
    answers = response.canonical
    if answers not in ENVELOPES:
        issues.append(
            Issue(
                where(place, "message"),
                "message",
                f"{spec.system} {spec.message} answers with {answers}, not canonical data: "
                "it is a call to deliver to, not a lookup",
                "not_a_lookup",
            )
        )
        return None
    for message in (spec.message, response.id):
        if (spec.system, message) not in project.outbound | project.inbound:
            issues.append(
                Issue(
                    where(place, "message"),
                    "message",
                    f"no mapping mappings/{spec.system}/{message}.yaml",
                    "no_mapping",
                )
            )
    _check_request(project, spec, schema, place)
    if spec.emit is not None:
        if spec.emit != answers:
            issues.append(
                Issue(
                    where(place, "emit"),
                    "emit",
                    f"{spec.system} {spec.message} answers with {answers}, not {spec.emit}",
                    "wrong_schema",
                    f"emit: {answers}",
                )
            )
        return answers
    merge = place.get("merge")
    for target in spec.merge or {}:
        _check_field(
            issues, schema, target, merge if isinstance(merge, LineDict) else place, target
        )
    return schema


def _check_request(project: Project, spec: EnrichSpec, schema: str | None, place: LineDict) -> None:
    """The lookup's mapping must render what the step hands it: the route's envelopes, or an
    adapter input when the step builds one with ``input``."""
    mapping = project.outbound.get((spec.system, spec.message))
    if mapping is None or schema is None:
        return
    renders = ", ".join(mapping.sources)
    if spec.input is None and schema not in mapping.sources:
        project.issues.append(
            Issue(
                where(place, "message"),
                "message",
                f"{spec.system} {spec.message} renders {renders}, this route carries {schema}",
                "wrong_schema",
                "build its adapter input from the envelope with 'input'",
            )
        )
    elif spec.input is not None and all(s in ENVELOPES for s in mapping.sources):
        project.issues.append(
            Issue(
                where(place, "input"),
                "input",
                f"{spec.system} {spec.message} renders {renders}, not an adapter input",
                "wrong_schema",
                "drop 'input': the mapping renders the envelope itself",
            )
        )


def _check_field(
    issues: list[Issue], schema: str | None, path: str, place: LineDict, key: str
) -> None:
    """``path`` (``payload.party.name``) must be a field of ``schema`` reached through objects
    only (a step cannot write inside a list)."""
    if schema is None:
        return
    problem, hint = _field_problem(PAYLOADS[schema], path.split(".")[1:])
    if problem:
        issues.append(Issue(where(place, key), key, f"{schema}: {problem}", "unknown_field", hint))


def _field_problem(model: type[BaseModel], parts: list[str]) -> tuple[str, str]:
    path = "payload"
    for depth, part in enumerate(parts):
        names = wire_names(model)
        if part not in names:
            return f"{path} has no field '{part}'", did_you_mean(part, list(names))
        path += f".{part}"
        if depth == len(parts) - 1:
            break
        nested = nested_model(model, names[part])
        if nested is None or _is_list(model.model_fields[names[part]].annotation):
            return f"{path} is not an object a step can write into", ""
        model = nested
    return "", ""


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _is_list(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in get_args(annotation) if a is not type(None))
    return origin is list
