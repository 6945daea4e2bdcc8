"""Config unit tests (``ebus test``): YAML cases next to the config, run with no broker or network.

``mappings/<system>/<message>.test.yaml`` tests a mapping::

    cases:
      - name: a case from the spec sample
        input_file: samples/get_case_list_response-1.xml     # relative to this file
        expect_file: samples/get_case_list_response-1.expected.json
      - name: a DTD is refused
        input: '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
        reject: {rule: xml_dtd, field: null}
      - name: a 429 with Retry-After, as the gateway sends it
        status: 429                     # transport facts for SPEC.prepare (meta: {..} for more)
        headers: {Retry-After: "7"}     # headers also make SPEC.verify check the message
        input: '{"code": 42901}'
        expect: {outcome: batch_retry, code: "42901", retry_after_s: 7, records: []}
      - name: a fragment of what prepare hands over
        prepared: true                  # the mapping alone: no verify, no prepare
        input: '<CaseList><Cases/></CaseList>'
        expect: []
      - name: an outbound render
        render_file: samples/push_joint_task-1.input.json     # for an outbound mapping
        expect_bytes_file: samples/push_joint_task-1.taskxml.xml

``routes/<route id>.test.yaml`` tests a route's steps::

    cases:
      - name: penalties with a fine go to credit_fj
        envelope_file: samples/penalty.json
        expect_destinations: [feed-enforcement_penalty_decision_v1, credit_fj-penalty_push]
      - name: each party is checked, each check goes to the feed
        envelope_file: samples/case.json
        lookups:                        # recorded answers of the enrich steps, by lookup key
          dishonest-query:              # one answer for every call, or a list used in order
            - answer_file: samples/dishonest_query_response.json
              status: 200               # the HTTP status (200), headers: {..} if it matters
              request_file: samples/dishonest_query.json   # optional: the rendered request
            - down: true                # the system does not answer (a timeout)
        expect_outputs_file: samples/case.outputs.json

An output is ``{"to": [destination keys], "envelope": {...}}`` (with ``"unenriched": [lookup
keys]`` when it went past lookups without their answer), ``{"waits": <lookup key>, "code":
...}`` when a lookup would be retried later, or ``{"dead_letter": {"rule": ..., "field": ...}}``.
A lookup's request is rendered with the adapter's demo config; nothing goes on the network.

Expected envelopes leave out what the bus stamps (message_id, causation_id, occurred_at,
received_at). A failing case prints a unified diff of expected and got.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.adapter_api import CallContext, RawMessage
from runner.dryrun import parse_now
from runner.engine.lookups import Answer, read_answer, render_call, request_item, settle
from runner.engine.plan import LookupPlan, Routed, RoutePlan, plan_of
from runner.errors import ConfigError, DeliveryError, MessageRejected, TransientError
from runner.project import Project
from runner.stamp import new_message_id, stamp
from runner.transfers.rule_cases import run_rule_case
from runner.transfers.rules import RuleSet, load_rules
from schemas import parse_envelope
from schemas.envelope import Envelope, EnvelopeDraft

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


def _wire(case: dict[str, Any], body: bytes) -> RawMessage:
    """The wire message of a mapping case: its bytes with the case's ``headers`` (names
    lower-cased), ``meta`` and ``status`` (``meta['status']``), as a channel would hand it in."""
    headers = {str(k).lower(): str(v) for k, v in (case.get("headers") or {}).items()}
    meta = {str(k): str(v) for k, v in (case.get("meta") or {}).items()}
    if "status" in case:
        meta["status"] = str(case["status"])
    return RawMessage(body, headers, meta)


def _mapping_case(
    project: Project, system: str, message: str, case: dict[str, Any], base: Path
) -> tuple[bool, str]:
    """Run a case through the adapter's inbound path as the bus would: ``verify`` (only when the
    case gives ``headers``: a signature lives there), ``prepare`` with the case's transport
    facts, then the mapping; so the input can be a spec sample exactly as the system sends it.
    With ``prepared: true`` the input is what ``prepare`` hands over and the mapping runs
    alone (a decrypted answer, a fragment of a document)."""
    body = _bytes(case, base, "input")
    if body is None:
        return _render_case(project, system, message, case, base)
    raw = _wire(case, body)
    adapter = project.registry.get(system)
    mapping = project.inbound_mapping(system, message)
    config = adapter.config.model_validate(dict(adapter.demo_config))
    try:
        if not case.get("prepared"):
            body = adapter.inbound(message, raw, config, verified="headers" not in case)
        result = mapping.apply(body, encoding=raw.meta.get("encoding"))
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
    view = json.loads(_bytes(case, base, "envelope") or b"{}")
    for key, value in _TEST_STAMP.items():
        view.setdefault(key, value)
    outputs = _route_outputs(plan, view, _Recorded(project, case.get("lookups") or {}, base))
    wanted = _bytes(case, base, "expect_outputs")
    if wanted is not None:
        expected = json.loads(wanted)
        return outputs == expected, _diff(expected, outputs)
    reached = {key for output in outputs for key in output.get("to", [])}
    got = [d.key for d in plan.destinations if d.key in reached]
    expected = list(case.get("expect_destinations") or [])
    return got == expected, _diff(expected, got)


_TEST_STAMP = {
    "message_id": "01J00000000000000000000000",
    "causation_id": None,
    "occurred_at": "2024-01-01T00:00:00+08:00",
    "received_at": "2024-01-01T00:00:00+08:00",
}
"""What the bus would have stamped on a test envelope that leaves it out."""


def _route_outputs(
    plan: RoutePlan, view: dict[str, Any], recorded: _Recorded
) -> list[dict[str, Any]]:
    """Where everything ``view`` becomes ends up, lookups answered from the recordings."""
    outputs: list[dict[str, Any]] = []
    pending = [(routed, "") for routed in plan.run(view)]
    while pending:
        routed, marks = pending.pop(0)
        lookup = routed.lookup
        if routed.rejected is not None:
            outputs.append({"dead_letter": _letter(routed.rejected)})
            continue
        if lookup is None:
            output = {"to": [d.key for d in routed.destinations], "envelope": _unstamped(routed)}
            outputs.append(output | ({"unenriched": marks.split(",")} if marks else {}))
            continue
        ask = functools.partial(recorded.ask, lookup, routed.view)
        fate = settle(lookup, routed.view, ask, _stamper)
        after, allowed = lookup.index + 1, routed.allowed
        if fate.kind == "results":
            for envelope in fate.results:
                part = envelope.model_dump(mode="json")
                results = plan.run(part, envelope=envelope, start=after, allowed=allowed)
                pending += [(r, marks) for r in results]
        elif fate.kind == "unenriched":
            mark = ",".join(m for m in (marks, lookup.key) if m)
            pending += [(r, mark) for r in plan.run(routed.view, start=after, allowed=allowed)]
        elif fate.kind == "retry":
            outputs.append({"waits": lookup.key, "code": fate.code})
        if fate.kind in ("dead", "results") and fate.error is not None:
            outputs.append({"dead_letter": _letter(fate.error)})
    return outputs


def _unstamped(routed: Routed) -> dict[str, Any]:
    return {k: v for k, v in routed.view.items() if k not in _STAMPED}


def _letter(error: MessageRejected | DeliveryError) -> dict[str, Any]:
    if isinstance(error, MessageRejected):
        return {"rule": error.rule, "field": error.field}
    return {"rule": error.code, "field": None}


def _stamper(drafts: Sequence[EnvelopeDraft[Any]]) -> list[Envelope[Any]]:
    at = parse_now(_TEST_STAMP["received_at"])
    return [stamp(d, message_id=new_message_id(at), received_at=at) for d in drafts]


class _Recorded:
    """The recorded answers of a route case's lookups (no network)."""

    def __init__(self, project: Project, lookups: dict[str, Any], base: Path) -> None:
        self.project = project
        self.lookups = {k: v if isinstance(v, list) else [v] for k, v in lookups.items()}
        self.base = base
        self.calls: dict[str, int] = {}

    def ask(self, lookup: LookupPlan, view: dict[str, Any]) -> Answer:
        """The answer to one call: rendered as the bus would, answered from the recording."""
        answers = self.lookups.get(lookup.key)
        if not answers:
            raise ConfigError(f"no recorded answer for lookup '{lookup.key}' (give 'lookups')")
        number = self.calls.get(lookup.key, 0)
        self.calls[lookup.key] = number + 1
        recorded = answers[min(number, len(answers) - 1)]
        adapter = self.project.registry.get(lookup.spec.system)
        config = adapter.config.model_validate(dict(adapter.demo_config))
        call = CallContext(now=parse_now(recorded.get("now")), nonce="0" * 32)
        document, outgoing = render_call(adapter, lookup, request_item(lookup, view), config, call)
        wanted = _bytes(recorded, self.base, "request")
        if wanted is not None and document not in (wanted, wanted.rstrip(b"\n")):
            got, expected = document.decode("utf-8", "replace"), wanted.decode("utf-8", "replace")
            raise ConfigError(f"the request of '{lookup.key}' differs:\n{_diff(expected, got)}")
        if recorded.get("down"):
            raise TransientError(f"{lookup.spec.system} does not answer (recorded)", code="down")
        headers = {str(k).lower(): str(v) for k, v in (recorded.get("headers") or {}).items()}
        meta = {"status": str(recorded.get("status", 200)), "path": outgoing.path}
        raw = RawMessage(_bytes(recorded, self.base, "answer") or b"", headers, meta)
        return read_answer(adapter, lookup, raw, config)


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
