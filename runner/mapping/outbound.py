"""Outbound mappings: canonical envelopes in, the wire document for one call out.

A mapping file, ``mappings/<system>/<message>.yaml`` of an outbound message::

    system: eco_env
    message: push_joint_task
    source: enforcement.inspection.v1     # the canonical schema (or adapter input) it renders;
                                          # a list when one call renders several schemas
    format: xml                           # xml | json
    xml: {declaration: null, empty: "<{tag} />"}
    view: canonical                       # or publicity: natural persons masked (公示)
    accepts: "payload.kind == 'combined'" # JMESPath: which messages this call takes
    batch: {max: 1}                       # messages per call (credit_fj takes 1..100)
    record: { … rules over one envelope (JMESPath selectors) … }
    body:  { … rules over the batch: {var: records}, {var: count}, transport {var: …} … }

Rules are the inbound vocabulary (``runner.mapping.rules``) with JMESPath selectors over the
canonical JSON of an envelope. Without ``record`` the ``body`` sees the single envelope.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError

from runner.errors import MessageRejected
from runner.mapping.codes import CodeTable
from runner.mapping.rules import (
    Ctx,
    Issue,
    Rule,
    RuleCompiler,
    unknown_keys,
)
from runner.mapping.transforms import TRANSFORMS, Transform
from runner.mapping.xmlwrite import write_xml
from runner.yamlconf import LineDict, where
from schemas import publicity_view
from schemas.envelope import EnvelopeDraft

__all__ = ["OutboundMapping", "compile_outbound"]

_TOP_KEYS = {
    "system",
    "message",
    "direction",
    "source",
    "format",
    "xml",
    "json",
    "view",
    "accepts",
    "batch",
    "record",
    "body",
    "vars",
    "description",
    "encoding",
}
_BATCH_VARS = ("records", "count", "envelopes")


@dataclass(frozen=True)
class OutboundMapping:
    """A compiled outbound mapping; ``render`` builds the wire document of one call."""

    system: str
    message: str
    sources: tuple[str, ...]
    fmt: Literal["xml", "json"]
    path: Path | None
    publicity: bool
    accepts: Any
    batch_max: int
    record: Rule | None
    body: Rule
    xml_options: Mapping[str, Any]
    json_options: Mapping[str, Any]
    encoding: str

    def accepts_message(self, envelope: Mapping[str, Any]) -> bool:
        """True when this call takes ``envelope`` (its ``accepts`` predicate holds)."""
        return self.accepts is None or bool(self.accepts.search(envelope))

    def view(self, envelope: EnvelopeDraft[Any] | Mapping[str, Any]) -> dict[str, Any]:
        """The canonical JSON the rules see: masked for publicity when the mapping says so."""
        if isinstance(envelope, EnvelopeDraft):
            return publicity_view(envelope) if self.publicity else envelope.to_json_dict()
        return dict(envelope)

    def render(
        self,
        envelopes: Sequence[EnvelopeDraft[Any] | Mapping[str, Any]],
        variables: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The wire bytes of one call carrying ``envelopes`` (1..batch max)."""
        if not 1 <= len(envelopes) <= self.batch_max:
            raise ValueError(
                f"{self.system} {self.message} takes 1..{self.batch_max} messages "
                f"per call, got {len(envelopes)}"
            )
        views = [self.view(e) for e in envelopes]
        names = dict(variables or {})
        ctx = Ctx(None, names, None, "record")
        try:
            if self.record is not None:
                records = []
                for index, view in enumerate(views):
                    ctx = Ctx(view, names, view, "record")
                    try:
                        records.append(self.record(ctx))
                    except MessageRejected as exc:
                        if len(views) > 1:
                            exc.reason = f"record {index + 1} of {len(views)}: {exc.reason}"
                        raise
                names |= {"records": records, "count": len(records), "envelopes": views}
                ctx = Ctx(names, names, views, "body")
            else:
                ctx = Ctx(views[0], names, views[0], "body")
            document = self.body(ctx)
        except MessageRejected as exc:
            if exc.field is None:
                exc.field = ctx.field
            raise exc.located(system=self.system, message=self.message) from None
        return self._serialise(document)

    def _serialise(self, document: Any) -> bytes:
        if self.fmt == "json":
            compact = self.json_options.get("compact", True)
            return json.dumps(
                document,
                ensure_ascii=False,
                default=str,
                separators=(",", ":") if compact else None,
                indent=None if compact else 2,
            ).encode(self.encoding)
        return write_xml(
            document,
            declaration=self.xml_options.get("declaration"),
            encoding=self.encoding,
            empty=str(self.xml_options.get("empty", "<{tag} />")),
        )


def compile_outbound(
    spec: LineDict,
    codes: dict[str, CodeTable],
    issues: list[Issue],
    transforms: Mapping[str, Transform] = TRANSFORMS,
    extra_vars: Sequence[str] = (),
) -> OutboundMapping | None:
    """Compile one outbound mapping file; every problem is appended to ``issues``."""
    issues += unknown_keys(spec, _TOP_KEYS, "unknown mapping key")
    fmt = spec.get("format")
    if fmt not in ("xml", "json"):
        issues.append(
            Issue(
                where(spec, "format"), "format", "an outbound format is xml or json", "bad_format"
            )
        )
        return None
    compiler = RuleCompiler(str(spec.get("system")), "json", {}, codes, library=transforms)
    compiler.variables = set(_BATCH_VARS) | set(extra_vars) | set(spec.get("vars") or [])
    accepts = None
    if spec.get("accepts"):
        try:
            accepts = jmespath.compile(str(spec["accepts"]))
        except JMESPathError as exc:
            compiler.issue(spec, "accepts", f"JMESPath does not compile: {exc}", "bad_selector")
    record = compiler.compile(spec["record"], spec, "record") if "record" in spec else None
    if "body" not in spec:
        compiler.issue(spec, "body", "an outbound mapping needs a 'body'", "no_body")
    body = compiler.compile(spec.get("body"), spec, "body")
    view = spec.get("view", "canonical")
    if view not in ("canonical", "publicity"):
        compiler.issue(spec, "view", "view is 'canonical' or 'publicity'", "bad_view")
    batch = spec.get("batch") or {}
    issues += compiler.issues
    return OutboundMapping(
        system=str(spec.get("system")),
        message=str(spec.get("message")),
        sources=_sources(spec.get("source")),
        fmt=fmt,
        path=spec.path,
        publicity=view == "publicity",
        accepts=accepts,
        batch_max=int(batch.get("max", 1)),
        record=record,
        body=body,
        xml_options=dict(spec.get("xml") or {}),
        json_options=dict(spec.get("json") or {}),
        encoding=str(spec.get("encoding", "utf-8")),
    )


def _sources(value: object) -> tuple[str, ...]:
    """``source`` as written: one schema name, or a list of them."""
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)
