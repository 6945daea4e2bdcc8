"""Config unit tests (``ebus test``): YAML cases next to the config, run with no broker or network.

``mappings/<system>/<message>.test.yaml`` tests a mapping::

    cases:
      - name: a case from the spec sample
        input_file: samples/get_case_list_response-1.xml     # relative to this file
        expect_file: samples/get_case_list_response-1.expected.json
      - name: a DTD is refused
        input: '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
        reject: {rule: xml_dtd, field: null}
      - name: an outbound render
        render_file: samples/push_joint_task-1.input.json     # for an outbound mapping
        expect_bytes_file: samples/push_joint_task-1.taskxml.xml

``routes/<route id>.test.yaml`` tests a route's steps::

    cases:
      - name: penalties with a fine go to credit_fj
        envelope_file: samples/penalty.json
        expect_destinations: [feed-enforcement_penalty_decision_v1, credit_fj-penalty_push]

Expected envelopes leave out what the bus stamps (message_id, causation_id, occurred_at,
received_at). A failing case prints a unified diff of expected and got.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.engine.plan import plan_of
from runner.errors import ConfigError, MessageRejected
from runner.project import Project
from runner.transfers.rule_cases import run_rule_case
from runner.transfers.rules import RuleSet, load_rules
from schemas import parse_envelope

__all__ = ["CaseResult", "run_config_tests"]

_STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


@dataclass(frozen=True)
class CaseResult:
    """The result of one config test case."""

    file: Path
    name: str
    ok: bool
    detail: str = ""


def _diff(expected: Any, got: Any) -> str:
    def text(value: Any) -> list[str]:
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).splitlines()

    return "\n".join(
        difflib.unified_diff(text(expected), text(got), "expected", "got", lineterm="")
    )


def _bytes(case: dict[str, Any], base: Path, key: str) -> bytes | None:
    if f"{key}_file" in case:
        return (base / str(case[f"{key}_file"])).read_bytes()
    if key in case:
        value = case[key]
        return value.encode("utf-8") if isinstance(value, str) else json.dumps(value).encode()
    return None


def _mapping_case(
    project: Project, system: str, message: str, case: dict[str, Any], base: Path
) -> tuple[bool, str]:
    raw = _bytes(case, base, "input")
    if raw is None:
        return _render_case(project, system, message, case, base)
    mapping = project.inbound_mapping(system, message)
    try:
        result = mapping.apply(raw)
    except MessageRejected as exc:
        want = case.get("reject")
        if not isinstance(want, dict):
            return False, f"rejected: {exc}"
        fate = {"rule": exc.rule, "field": exc.field}
        wanted = {k: want.get(k, fate[k]) for k in fate}
        return wanted == fate, _diff(wanted, fate)
    if "reject" in case:
        return False, "expected a rejection, the message was mapped"
    if result.outcome is not None:
        got: Any = result.outcome.model_dump(mode="json")
    else:
        got = [
            {k: v for k, v in e.model_dump(mode="json").items() if k not in _STAMPED}
            for e in result.envelopes
        ]
    expected: Any = json.loads(_bytes(case, base, "expect") or b"null")
    if isinstance(expected, dict) and "outcome" not in expected:
        expected = [expected]
    return got == expected, _diff(expected, got)


def _render_case(
    project: Project, system: str, message: str, case: dict[str, Any], base: Path
) -> tuple[bool, str]:
    source = _bytes(case, base, "render")
    if source is None:
        raise ConfigError("a case needs input, input_file, render or render_file")
    mapping = project.outbound_mapping(system, message)
    data = json.loads(source)
    items = [
        parse_envelope(i, draft=True) if "schema" in i else i
        for i in (data if isinstance(data, list) else [data])
    ]
    got = mapping.render(items, case.get("vars") or {})
    expected = _bytes(case, base, "expect_bytes") or b""
    if got == expected or got == expected.rstrip(b"\n"):
        return True, ""
    return False, "\n".join(
        difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            got.decode("utf-8", "replace").splitlines(),
            "expected",
            "got",
            lineterm="",
        )
    )


def _route_case(
    project: Project, route_id: str, case: dict[str, Any], base: Path
) -> tuple[bool, str]:
    plan = plan_of(project, route_id)
    envelope = json.loads(_bytes(case, base, "envelope") or b"{}")
    got = [d.key for d in plan.select(envelope)]
    expected = list(case.get("expect_destinations") or [])
    return got == expected, _diff(expected, got)


def _cases(path: Path) -> Iterator[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    yield from data.get("cases") or []


TRANSFER_RULES = "transfer-rules"
"""The folder of the threshold rules (``routes/transfer-rules/``): its tests are rule cases."""


@functools.cache
def _rules(directory: Path) -> RuleSet:
    return load_rules(directory)


def run_config_tests(project: Project, under: Path | None = None) -> list[CaseResult]:
    """Run every ``*.test.yaml`` under the project's mappings and routes (or under ``under``)."""
    results: list[CaseResult] = []
    roots = [under] if under else [project.root / "mappings", project.root / "routes"]
    files = sorted(
        {p for root in roots for p in ([root] if root.is_file() else root.rglob("*.test.yaml"))}
    )
    for path in files:
        stem = path.name.removesuffix(".test.yaml")
        for number, case in enumerate(_cases(path), start=1):
            name = str(case.get("name") or f"case {number}")
            try:
                if path.parent.name == TRANSFER_RULES:
                    ok, detail = run_rule_case(case, _rules(path.parent))
                elif path.parent.name == "routes" or stem in project.routes:
                    ok, detail = _route_case(project, stem, case, path.parent)
                else:
                    ok, detail = _mapping_case(project, path.parent.name, stem, case, path.parent)
            except (ConfigError, KeyError, OSError, ValueError) as exc:
                ok, detail = False, f"error: {exc}"
            results.append(CaseResult(path, name, ok, detail))
    return results
