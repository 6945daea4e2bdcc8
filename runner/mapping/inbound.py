"""Inbound mappings: one wire document in, canonical envelopes (or a delivery outcome) out.

A mapping file, ``mappings/<system>/<message>.yaml``::

    system: eco_env
    message: get_case_list_response
    format: xml                       # xml | json | jsonl | csv
    encoding: utf-8                   # the declared encoding (gbk, gb18030, gb2312, utf-8 …)
    namespaces: {s: "http://schemas.xmlsoap.org/soap/envelope/", t: "http://tempuri.org/"}
    answers:                          # documents that are answers, not data → delivery outcome
      - scope: outer                  # outer = before unwrap; document = after (the default)
        when: boolean(/s:Envelope/s:Body/s:Fault)
        outcome: {outcome: {const: batch_failed}, code: {const: "FAULT:Server"}, ...}
    unwrap: string(/s:Envelope/s:Body/t:GetCaseListResponse/t:GetCaseListResult)
    records: /CaseList/Cases/CaseInfo  # one canonical message per node (default: the document)
    vars:                             # computed once per record, used with {var: name}
      registered_at: {from: RegisterTime, transform: [{datetime: "%Y/%m/%d %H:%M:%S"}]}
    outputs:
      - schema: enforcement.case.v1
        when: …                       # optional selector: produce this output only when true
        envelope:
          source_message_id: {concat: [{from: CaseId}, ":", {from: UpdateTime}]}
          occurred_at: {var: registered_at}      # default: when the bus received it
        payload: { … one rule per canonical field … }

The envelope's ``case_code`` is the payload's unless the envelope section sets it; its
``classification`` is computed from the payload.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from runner.errors import MessageRejected
from runner.mapping.codes import CodeTable
from runner.mapping.documents import Format, parse_document, parse_xml
from runner.mapping.fields import nested_model, required_fields, wire_names
from runner.mapping.rejection import validation_rejection
from runner.mapping.rules import (
    Ctx,
    Issue,
    Rule,
    RuleCompiler,
    did_you_mean,
    is_rule,
    unknown_keys,
)
from runner.mapping.selectors import Selector
from runner.mapping.transforms import TRANSFORMS, Transform
from runner.yamlconf import LineDict, where
from schemas import DRAFTS, PAYLOADS, DeliveryOutcome
from schemas.base import CanonicalModel, construct_checked
from schemas.case_code import CASE_CODE_PATTERN
from schemas.envelope import EnvelopeDraft
from schemas.text import normalize_text
from schemas.timeutil import to_canonical_datetime

__all__ = ["InboundMapping", "MapResult", "compile_inbound"]

_TOP_KEYS = {
    "system",
    "message",
    "direction",
    "format",
    "encoding",
    "namespaces",
    "answers",
    "unwrap",
    "records",
    "vars",
    "outputs",
    "description",
}
_OUTCOME = "delivery_outcome"
_FORMATS = ("xml", "json", "jsonl", "csv")


@dataclass(frozen=True)
class MapResult:
    """What one wire document became: canonical envelopes, or a delivery outcome.

    ``rejected`` holds the records of a multi-record document that could not be mapped: each is
    dead-lettered on its own while the document's other records go on.
    """

    envelopes: list[EnvelopeDraft[Any]] = field(default_factory=list)
    outcome: DeliveryOutcome | None = None
    rejected: list[MessageRejected] = field(default_factory=list)


@dataclass(frozen=True)
class _Output:
    schema: str
    when: Selector | None
    source_message_id: Rule | None
    case_code: Rule | None
    occurred_at: Rule | None
    payload: Rule


@dataclass(frozen=True)
class _Answer:
    on_outer: bool
    when: Selector
    outcome: Rule


@dataclass(frozen=True)
class InboundMapping:
    """A compiled inbound mapping; ``apply`` runs it on one raw wire document."""

    system: str
    message: str
    fmt: Format
    encoding: str
    path: Path | None
    answers: tuple[_Answer, ...]
    unwrap: Selector | None
    records: Selector | None
    variables: tuple[tuple[str, Rule], ...]
    outputs: tuple[_Output, ...]

    def apply(self, raw: bytes, *, encoding: str | None = None) -> MapResult:
        """Decode, parse and map ``raw``; a problem raises ``MessageRejected`` naming the field."""
        try:
            return self._apply(raw, encoding or self.encoding)
        except MessageRejected as exc:
            raise exc.located(system=self.system, message=self.message) from None

    def _apply(self, raw: bytes, encoding: str) -> MapResult:
        document = parse_document(raw, self.fmt, encoding)
        outcome = self._answer(document, outer=True)
        if outcome is not None:
            return MapResult(outcome=outcome)
        if self.unwrap is not None:
            inner = self.unwrap(document)
            if not isinstance(inner, str) or not inner.strip():
                raise MessageRejected("the wrapped document is missing", rule="unwrap")
            document = parse_xml(inner)
        outcome = self._answer(document, outer=False)
        if outcome is not None:
            return MapResult(outcome=outcome)
        nodes = self.records(document) if self.records else [document]
        if not isinstance(nodes, list):
            nodes = [nodes]
        envelopes: list[EnvelopeDraft[Any]] = []
        rejected: list[MessageRejected] = []
        for index, node in enumerate(nodes):
            try:
                envelopes += self._record(node, document, index, len(nodes))
            except MessageRejected as exc:
                if len(nodes) == 1:
                    raise
                rejected.append(exc.located(system=self.system, message=self.message))
        return MapResult(envelopes=envelopes, rejected=rejected)

    def _answer(self, document: Any, *, outer: bool) -> DeliveryOutcome | None:
        for answer in self.answers:
            if answer.on_outer == outer and _truthy(answer.when(document)):
                data = answer.outcome(Ctx(document, {}, document, "outcome"))
                try:
                    return DeliveryOutcome.model_validate(data)
                except ValidationError as exc:
                    raise validation_rejection(exc, "outcome") from None
        return None

    def _record(self, node: Any, root: Any, index: int, count: int) -> list[EnvelopeDraft[Any]]:
        ctx = Ctx(node, {}, root)
        prefix = f"record {index + 1} of {count}: " if count > 1 else ""
        try:
            for name, rule in self.variables:
                ctx.field = name
                ctx.vars[name] = rule(ctx)
            return [
                self._output(output, ctx)
                for output in self.outputs
                if output.when is None or _truthy(output.when(node))
            ]
        except MessageRejected as exc:
            if exc.field is None:
                exc.field = ctx.field or None
            exc.reason = prefix + exc.reason
            raise

    def _output(self, output: _Output, ctx: Ctx) -> EnvelopeDraft[Any]:
        ctx.field = "payload"
        data = output.payload(ctx)
        try:
            payload: CanonicalModel = PAYLOADS[output.schema].model_validate(data)
        except ValidationError as exc:
            raise validation_rejection(exc, "payload") from None
        ctx.field = "source_message_id"
        source_id = output.source_message_id(ctx) if output.source_message_id else None
        if source_id is None:
            raise MessageRejected(
                "no source message id", field="source_message_id", rule="required"
            )
        case_code = (
            output.case_code(ctx) if output.case_code else getattr(payload, "case_code", None)
        )
        occurred_at = None
        if output.occurred_at is not None:
            ctx.field = "occurred_at"
            occurred_at = output.occurred_at(ctx)
        return _draft(output.schema, self.system, str(source_id), case_code, occurred_at, payload)


_CASE_CODE = re.compile(CASE_CODE_PATTERN)


def _draft(
    schema: str,
    system: str,
    source_id: str,
    case_code: Any,
    occurred_at: Any,
    payload: CanonicalModel,
) -> EnvelopeDraft[Any]:
    """The envelope draft of a validated payload.

    The payload was validated once; the envelope's own fields are checked here, so the draft is
    constructed without validating the payload a second time (the hot path of every message).
    """
    if case_code is not None and not (
        isinstance(case_code, str) and _CASE_CODE.fullmatch(case_code)
    ):
        raise MessageRejected(
            f"'{case_code}' is not a case code", field="case_code", rule="case_code_format"
        )
    payload_code = getattr(payload, "case_code", None)
    if payload_code is not None and payload_code != case_code:
        raise MessageRejected(
            "payload case_code differs from the envelope's",
            field="case_code",
            rule="envelope_case_code",
        )
    if not source_id.strip():
        raise MessageRejected("empty source message id", field="source_message_id", rule="required")
    try:
        occurred = None if occurred_at is None else to_canonical_datetime(occurred_at)
    except PydanticCustomError as exc:
        raise MessageRejected(exc.message(), field="occurred_at", rule=exc.type) from None
    return construct_checked(
        DRAFTS[schema],
        {
            "message_id": None,
            "schema_name": schema,
            "source_system": system,
            "source_message_id": normalize_text(source_id),
            "case_code": case_code,
            "causation_id": None,
            "occurred_at": occurred,
            "received_at": None,
            "classification": payload.data_class,
            "payload": payload,
        },
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value)


# --- compiling --------------------------------------------------------------------------------


def compile_inbound(
    spec: LineDict,
    codes: dict[str, CodeTable],
    issues: list[Issue],
    transforms: Mapping[str, Transform] = TRANSFORMS,
) -> InboundMapping | None:
    """Compile one inbound mapping file; every problem is appended to ``issues``."""
    issues += unknown_keys(spec, _TOP_KEYS, "unknown mapping key")
    fmt = spec.get("format")
    if fmt not in _FORMATS:
        issues.append(
            Issue(
                where(spec, "format"),
                "format",
                f"format must be one of {', '.join(_FORMATS)}",
                "bad_format",
            )
        )
        return None
    namespaces = dict(spec.get("namespaces") or {})
    compiler = RuleCompiler(str(spec.get("system")), fmt, namespaces, codes, library=transforms)
    compiler.variables = set((spec.get("vars") or {}).keys())
    variables = tuple(
        (name, compiler.compile(rule, spec["vars"], name))
        for name, rule in (spec.get("vars") or {}).items()
    )
    answers = tuple(_compile_answer(compiler, a) for a in spec.get("answers") or [])
    outputs = tuple(_compile_output(compiler, o) for o in spec.get("outputs") or [])
    if not outputs and not answers:
        compiler.issue(spec, "outputs", "the mapping produces nothing", "no_outputs")
    unwrap = compiler.selector(spec, "unwrap", spec["unwrap"]) if "unwrap" in spec else None
    records = (
        compiler.list_selector(spec, "records", spec["records"]) if spec.get("records") else None
    )
    issues += compiler.issues
    return InboundMapping(
        system=str(spec.get("system")),
        message=str(spec.get("message")),
        fmt=fmt,
        encoding=str(spec.get("encoding", "utf-8")),
        path=spec.path,
        answers=answers,
        unwrap=unwrap,
        records=records,
        variables=variables,
        outputs=tuple(o for o in outputs if o is not None),
    )


def _compile_answer(compiler: RuleCompiler, spec: Any) -> _Answer:
    scope = spec.get("scope", "document")
    if scope not in ("outer", "document"):
        compiler.issue(spec, "scope", "scope must be 'outer' or 'document'", "bad_answer")
    for key in spec:
        if key not in ("scope", "when", "outcome"):
            compiler.issue(
                spec,
                key,
                "an answer has scope, when and outcome",
                "unknown_key",
                did_you_mean(str(key), ["scope", "when", "outcome"]),
            )
    when = compiler.selector(spec, "when", spec.get("when"))
    body = spec.get("outcome")
    if not isinstance(body, dict):
        compiler.issue(spec, "outcome", "an answer needs an 'outcome' object", "bad_answer")
        body = {}
    _check_object(compiler, body, DeliveryOutcome)
    return _Answer(scope == "outer", when, compiler.object(body))


def _compile_output(compiler: RuleCompiler, spec: Any) -> _Output | None:
    schema = spec.get("schema")
    if schema not in PAYLOADS:
        compiler.issue(
            spec,
            "schema",
            f"unknown canonical schema '{schema}'",
            "unknown_schema",
            did_you_mean(str(schema), sorted(PAYLOADS)),
        )
        return None
    payload = spec.get("payload")
    if not isinstance(payload, dict):
        compiler.issue(spec, "payload", "an output needs a 'payload' object", "no_payload")
        return None
    _check_object(compiler, payload, PAYLOADS[schema])
    envelope = spec.get("envelope") or {}
    for key in envelope:
        if key not in ("source_message_id", "case_code", "occurred_at"):
            compiler.issue(
                envelope,
                key,
                "an envelope sets source_message_id, case_code or occurred_at",
                "unknown_key",
            )
    if "source_message_id" not in envelope:
        compiler.issue(
            spec, "envelope", "the envelope needs a source_message_id rule", "no_source_message_id"
        )

    def optional(key: str) -> Rule | None:
        return compiler.compile(envelope[key], envelope, key) if key in envelope else None

    when = compiler.selector(spec, "when", spec["when"]) if "when" in spec else None
    return _Output(
        schema=str(schema),
        when=when,
        source_message_id=optional("source_message_id"),
        case_code=optional("case_code"),
        occurred_at=optional("occurred_at"),
        payload=compiler.object(payload, prefix="payload"),
    )


def _check_object(compiler: RuleCompiler, spec: Any, model: type[BaseModel]) -> None:
    """Every key names a field of ``model``; every required field has a rule (recursively)."""
    if not isinstance(spec, dict):
        return
    names = wire_names(model)
    for key, rule in spec.items():
        if key not in names:
            compiler.issue(
                spec,
                key,
                f"{model.__name__} has no field '{key}'",
                "unknown_field",
                did_you_mean(key, sorted(names)),
            )
            continue
        child = nested_model(model, names[key])
        if child is None:
            continue
        if isinstance(rule, list):
            for item in rule:
                if not is_rule(item):
                    _check_object(compiler, item, child)
        elif isinstance(rule, dict) and "each" in rule and isinstance(rule.get("fields"), dict):
            _check_object(compiler, rule["fields"], child)
        elif not is_rule(rule):
            _check_object(compiler, rule, child)
    missing = [name for name in required_fields(model) if name not in spec]
    if missing:
        compiler.issue(
            spec,
            next(iter(spec), "?"),
            f"{model.__name__} fields not covered: {', '.join(missing)}",
            "missing_fields",
            "every canonical field is present; use {const: null} for an absent one",
        )


MappingFn = Callable[[bytes], MapResult]
