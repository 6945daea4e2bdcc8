"""Value rules: the closed vocabulary that says how one canonical field gets its value.

A rule in YAML is one of:

- a string: a selector (``CaseName``; XPath, JMESPath or a CSV column, by the mapping's format);
- a mapping with one source key, ``from`` (selector), ``const``, ``var``, ``concat``
  (strings in it are literal text, mappings are rules), ``first`` (the first non-null rule),
  ``if`` / ``then`` / ``else`` (a selector tested for truth), ``case_code``, or ``each`` (one
  item per selected node, built with ``fields`` or ``value``); plus the modifiers
  ``transform`` (a list of named transforms; ``per_item`` applies a list to each item and
  ``codes`` looks a value up in a code table inside the chain),
  ``codes`` (a code table) and ``required`` (null rejects the message);
- a mapping without a source key: a nested object, one rule per field;
- a list: a list whose items are rules.

Example::

    registered_at: {from: RegisterTime, transform: [{datetime: "%Y/%m/%d %H:%M:%S"}]}
    legal_basis: {from: LegalBasis, transform: [{split: "[；;]"}, {per_item: [legal_basis]}]}
    parties:
      - kind: {from: PartyType, codes: eco_env/party_type}
        name: PartyName

Rules compile once into ``Rule`` callables; a compile problem is collected as an ``Issue`` with
file, line, key and hint, so lint reports every problem at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.errors import MessageRejected
from runner.mapping.codes import CodeTable
from runner.mapping.compose import compose
from runner.mapping.documents import Format
from runner.mapping.selectors import Selector, compile_list_selector, compile_selector
from runner.mapping.transforms import TRANSFORMS, Transform, validate_params
from runner.yamlconf import LineDict, where
from schemas.case_code import make_case_code

__all__ = ["SOURCE_KEYS", "Ctx", "Issue", "Rule", "RuleCompiler"]

SOURCE_KEYS = ("from", "const", "var", "concat", "first", "if", "case_code_of", "each")
MODIFIERS = ("transform", "codes", "required")
_RULE_KEYS = frozenset((*SOURCE_KEYS, *MODIFIERS, "then", "else", "fields", "value"))


@dataclass
class Ctx:
    """What a rule sees: the current record node, the per-record variables and the document."""

    node: Any
    vars: dict[str, Any]
    root: Any
    field: str = ""


Rule = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Issue:
    """One config problem: where, which key, what is wrong, a hint, and a stable code."""

    where: str
    key: str
    message: str
    code: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.where}: '{self.key}': {self.message}{hint} [{self.code}]"


def unknown_keys(spec: Any, known: Collection[str], message: str) -> list[Issue]:
    """An ``unknown_key`` issue, with a suggestion, for every key of ``spec`` not in ``known``."""
    return [
        Issue(where(spec, key), key, message, "unknown_key", did_you_mean(key, sorted(known)))
        for key in spec
        if key not in known
    ]


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``did you mean 'x'?`` for the closest of ``choices``, or the empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def _picked(select: Selector) -> Rule:
    """The rule of a bare selector: the selected value, trimmed (blank text is null).

    Trim only: NFC normalisation happens once, in the canonical models' Text type.
    """

    def pick(ctx: Ctx) -> Any:
        value = select(ctx.node)
        if isinstance(value, str):
            return value.strip() or None
        return value

    return pick


@dataclass
class RuleCompiler:
    """Compiles rules for one mapping (its format, namespaces, code tables, variables)."""

    system: str
    fmt: Format
    namespaces: dict[str, str]
    codes: dict[str, CodeTable]
    variables: set[str] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)
    library: Mapping[str, Transform] = field(default_factory=lambda: TRANSFORMS)
    _path: list[str] = field(default_factory=list)

    def issue(self, node: Any, key: str, message: str, code: str, hint: str = "") -> None:
        """Record a problem found while compiling."""
        self.issues.append(Issue(where(node, key), key, message, code, hint))

    # --- selectors ----------------------------------------------------------------------------

    def selector(self, node: Any, key: str, expression: Any) -> Selector:
        """Compile a selector, recording an issue (and selecting nothing) when it is bad."""
        if not isinstance(expression, str):
            self.issue(node, key, "a selector must be a string", "bad_selector")
            return lambda _record: None
        try:
            return compile_selector(expression, self.fmt, self.namespaces)
        except ValueError as exc:
            self.issue(node, key, str(exc), "bad_selector")
            return lambda _record: None

    def list_selector(self, node: Any, key: str, expression: Any) -> Selector:
        """Compile a selector of several nodes or items."""
        if not isinstance(expression, str):
            self.issue(node, key, "a selector must be a string", "bad_selector")
            return lambda _record: []
        try:
            return compile_list_selector(expression, self.fmt, self.namespaces)
        except ValueError as exc:
            self.issue(node, key, str(exc), "bad_selector")
            return lambda _record: []

    # --- rules --------------------------------------------------------------------------------

    def compile(self, spec: Any, parent: Any, key: str) -> Rule:
        """Compile the rule ``spec`` found at ``parent[key]``."""
        if isinstance(spec, str):
            return _picked(self.selector(parent, key, spec))
        if isinstance(spec, list):
            items = [self.compile(item, parent, key) for item in spec]
            return lambda ctx: [item(ctx) for item in items]
        if isinstance(spec, dict):
            if any(k in spec for k in SOURCE_KEYS):
                return self._rule(spec, parent, key)
            top = not self._path and key not in _RULE_KEYS
            return self.object(spec, prefix=key if top else None)
        value = spec
        return lambda _ctx: value

    def object(self, spec: dict[str, Any], prefix: str | None = None) -> Rule:
        """Compile a nested object: one rule per field, built in the order written.

        Each field knows its dotted path (``payload.parties.kind``), set on the context while
        its rule runs, so a rejection names the field it happened in.
        """
        if prefix is not None:
            self._path.append(prefix)
        tracked = bool(self._path)  # an object inside a rule (first, if …) keeps its caller's
        fields: list[tuple[str, str, Rule]] = []
        for name, rule in spec.items():
            self._path.append(name)
            fields.append((name, ".".join(self._path), self.compile(rule, spec, name)))
            self._path.pop()
        if prefix is not None:
            self._path.pop()

        if not tracked:
            plain = [(name, rule) for name, _, rule in fields]
            return lambda ctx: {name: rule(ctx) for name, rule in plain}

        def build(ctx: Ctx) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, path, rule in fields:
                ctx.field = path
                out[name] = rule(ctx)
            return out

        return build

    def _rule(self, spec: dict[str, Any], parent: Any, key: str) -> Rule:
        sources = [k for k in SOURCE_KEYS if k in spec]
        for extra in spec:
            if extra not in _RULE_KEYS:
                self.issue(
                    spec,
                    extra,
                    "unknown rule key",
                    "unknown_key",
                    did_you_mean(extra, sorted(_RULE_KEYS)),
                )
        if len(sources) > 1:
            self.issue(spec, sources[1], f"a rule has one source, found {sources}", "two_sources")
        source = self._source(sources[0], spec, key)
        modifiers = self._modifiers(spec)
        if not modifiers:
            return source
        if len(modifiers) == 1:
            (modify,) = modifiers
            return lambda ctx: modify(source(ctx))

        def run(ctx: Ctx) -> Any:
            value = source(ctx)
            for modify in modifiers:
                value = modify(value)
            return value

        return run

    def _source(self, kind: str, spec: dict[str, Any], key: str) -> Rule:  # noqa: PLR0911
        """Compile the source of a rule (one branch per source key of the vocabulary)."""
        value = spec[kind]
        if kind == "from":
            return _picked(self.selector(spec, kind, value))
        if kind == "const":
            return lambda _ctx: value
        if kind == "var":
            if value not in self.variables:
                self.issue(
                    spec,
                    kind,
                    f"no variable '{value}' is defined",
                    "unknown_var",
                    did_you_mean(str(value), sorted(self.variables)),
                )
            return lambda ctx: ctx.vars.get(value)
        if kind == "concat":
            return self._concat(spec, value)
        if kind == "first":
            rules = [self.compile(item, spec, kind) for item in (value or [])]
            return lambda ctx: next((v for v in (r(ctx) for r in rules) if v is not None), None)
        if kind == "if":
            test = self.selector(spec, kind, value)
            then = self.compile(spec.get("then"), spec, "then")
            other = self.compile(spec.get("else"), spec, "else")
            return lambda ctx: then(ctx) if _truthy(test(ctx.node)) else other(ctx)
        if kind == "case_code_of":
            return self._case_code(spec, value)
        return self._each(spec, value, key)

    def _concat(self, spec: dict[str, Any], parts: Any) -> Rule:
        if not isinstance(parts, list):
            self.issue(spec, "concat", "concat takes a list", "bad_concat")
            return lambda _ctx: None
        rules = [
            (lambda _ctx, text=p: text) if isinstance(p, str) else self.compile(p, spec, "concat")
            for p in parts
        ]

        def join(ctx: Ctx) -> Any:
            values = [rule(ctx) for rule in rules]
            if any(v is None for v in values):
                return None
            return "".join(str(v) for v in values)

        return join

    def _case_code(self, spec: dict[str, Any], inputs: Any) -> Rule:
        needed = ("division_code", "registered_at", "domain", "case_no")
        if not isinstance(inputs, dict) or set(inputs) != set(needed):
            self.issue(
                spec,
                "case_code_of",
                f"case_code_of takes exactly {', '.join(needed)}",
                "bad_case_code",
            )
            return lambda _ctx: None
        parts = {name: self.compile(inputs[name], inputs, name) for name in needed}
        system = self.system

        def code(ctx: Ctx) -> Any:
            got = {name: rule(ctx) for name, rule in parts.items()}
            missing = [name for name, v in got.items() if v is None]
            if missing:
                raise MessageRejected(
                    f"case code input {', '.join(missing)} is missing", rule="case_code_input"
                )
            registered = got["registered_at"]
            year = registered.year if isinstance(registered, dt.date) else int(str(registered))
            try:
                return make_case_code(
                    division_code=str(got["division_code"]),
                    year=year,
                    domain=str(got["domain"]),
                    source_system=system,
                    source_case_no=str(got["case_no"]),
                )
            except ValueError as exc:
                raise MessageRejected(str(exc), rule="case_code_input") from None

        return code

    def _each(self, spec: dict[str, Any], expression: Any, key: str) -> Rule:
        select = self.list_selector(spec, "each", expression)
        if "fields" in spec:
            item = self.object(spec["fields"]) if isinstance(spec["fields"], dict) else None
        elif "value" in spec:
            item = self.compile(spec["value"], spec, "value")
        else:
            item = None
        if item is None:
            self.issue(
                spec, "each", "each needs 'fields' (objects) or 'value' (scalars)", "bad_each"
            )
            return lambda _ctx: []
        build = item

        def each(ctx: Ctx) -> list[Any]:
            return [build(Ctx(node, ctx.vars, ctx.root, ctx.field)) for node in select(ctx.node)]

        return each

    # --- modifiers ----------------------------------------------------------------------------

    def _modifiers(self, spec: dict[str, Any]) -> list[Callable[[Any], Any]]:
        stages: list[Callable[[Any], Any]] = []
        if "transform" in spec:
            stages.append(self.transforms(spec, spec["transform"]))
        if "codes" in spec:
            stages.append(self._codes(spec))
        if spec.get("required"):
            stages.append(_required)
        return stages

    def transforms(self, node: Any, specs: Any) -> Callable[[Any], Any]:
        """Compile a transform list into one function."""
        if not isinstance(specs, list):
            specs = [specs]
        return compose([self._transform(node, s) for s in specs])

    def _transform(self, node: Any, spec: Any) -> Callable[[Any], Any]:
        if isinstance(spec, dict) and len(spec) == 1 and "per_item" in spec:
            inner = self.transforms(node, spec["per_item"])
            return lambda value: value if value is None else [inner(v) for v in value]
        if isinstance(spec, dict) and len(spec) == 1 and "codes" in spec:
            return self._codes(spec)
        if isinstance(spec, str):
            name, raw = spec, None
        elif isinstance(spec, dict) and len(spec) == 1:
            name, raw = next(iter(spec.items()))
        else:
            self.issue(
                node,
                "transform",
                f"a transform is a name or a one-key mapping, not {spec!r}",
                "bad_transform",
            )
            return lambda value: value
        transform = self.library.get(name)
        if transform is None:
            self.issue(
                node,
                "transform",
                f"unknown transform '{name}'",
                "unknown_transform",
                did_you_mean(name, sorted(self.library)),
            )
            return lambda value: value
        try:
            params = validate_params(transform, raw)
        except ValueError as exc:
            self.issue(node, "transform", str(exc), "bad_transform_params")
            return lambda value: value
        fn = transform.fn
        return lambda value: fn(value, params)

    def _codes(self, spec: dict[str, Any]) -> Callable[[Any], Any]:
        name = spec["codes"]
        table = self.codes.get(name)
        if table is None:
            self.issue(
                spec,
                "codes",
                f"unknown code table '{name}'",
                "unknown_code_table",
                did_you_mean(str(name), sorted(self.codes)),
            )
            return lambda value: value
        lookup = table.lookup

        def codes(value: Any) -> Any:
            if isinstance(value, list):
                return [lookup(v) for v in value]
            return lookup(value)

        return codes


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value)


def _required(value: Any) -> Any:
    if value is None:
        raise MessageRejected("a required value is missing", rule="required")
    return value


def is_rule(spec: Any) -> bool:
    """True when a YAML value is a rule rather than a nested object."""
    return not isinstance(spec, LineDict | dict) or any(k in spec for k in SOURCE_KEYS)
