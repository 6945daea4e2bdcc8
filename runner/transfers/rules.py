"""Criminal-threshold rules (涉刑预警) as data: load, check and evaluate them.

A rule file, ``routes/transfer-rules/<name>.yaml``, holds the rules of one domain and offence::

    domain: HJ
    offence: 污染环境罪
    rules:
      - id: HJ-XS338-02
        title: 非法处置危险废物三吨以上
        source: 《中华人民共和国刑法》第三百三十八条；法释〔2023〕7号第一条第（二）项
        applies_to: [case, penalty_decision]
        when: "contains(payload.violation_type || '', '危险废物')"
        figures:
          hazardous_waste_tonnes:
            from: payload.facts                      # JMESPath over the canonical envelope
            pattern: '([0-9]+(?:\\.[0-9]+)?)\\s*吨'   # first group = the number
            at_least: "3"

A rule *hits* a canonical case or penalty decision of its domains when ``when`` holds (JMESPath,
the expression library routes use; never ``eval``) and its figures meet their thresholds
(``match: any``, the default, or ``all``). A rule without figures is a conduct offence: ``when``
alone decides. A figure comes from the envelope (``from``, optionally a number picked out of a
text by ``pattern``: the first group that matched; a group named ``wan`` that matched means
万, ×10 000) or from the
repeat-offender ledger (``prior_penalties``: how many earlier penalties the same party received
within ``within_years``). A hit never decides anything: it proposes a transfer for a person to
approve, naming the rule, the figures (``name`` and ``threshold_name``) and the source.

Loading reports every problem at once as an ``Issue`` with file, line, key and hint.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runner.mapping.rules import Issue, did_you_mean
from runner.routes import compile_condition
from runner.yamlconf import LineDict, load_yaml, where
from schemas.case_code import DOMAINS

__all__ = [
    "FIGURE_PLACES",
    "SCHEMAS",
    "Figure",
    "Hit",
    "PriorCount",
    "PriorPenalties",
    "RuleFile",
    "RuleSet",
    "ThresholdRule",
    "load_rules",
]

SCHEMAS: dict[str, str] = {
    "case": "enforcement.case.v1",
    "penalty_decision": "enforcement.penalty_decision.v1",
}
"""The canonical messages a rule can look at, by their short name in ``applies_to``."""

FIGURE_PLACES = Decimal("0.01")
"""Figures and thresholds are written with two decimals (``"3.60"``, ``"50000.00"``)."""

PartyKindFilter = Literal[
    "legal_person", "unincorporated_org", "individual_business", "natural_person"
]
_Applies = Literal["case", "penalty_decision"]
_ALL_APPLIES: tuple[_Applies, ...] = ("case", "penalty_decision")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a decimal number") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"'{value}' is not a non-negative decimal number")
    return number


class PriorPenalties(_Closed):
    """Count the party's earlier penalty decisions (the repeat-offender ledger).

    Counted: decisions of the same party decided within ``within_years`` before this one (no
    limit when null), of
    the same domain when ``same_domain``, and whose violation type matches ``violation_type``
    (a regular expression) when given.
    """

    within_years: Annotated[int, Field(ge=1, le=50)] | None = 2
    same_domain: bool = True
    violation_type: str | None = None

    @field_validator("violation_type")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"violation_type pattern does not compile: {exc}") from None
        return value


class Figure(_Closed):
    """One figure of a rule and its threshold (``at_least``)."""

    source: Annotated[str | None, Field(alias="from")] = None
    pattern: str | None = None
    prior_penalties: PriorPenalties | None = None
    at_least: str

    @field_validator("source")
    @classmethod
    def _source_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_condition(value)
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        if compiled.groups < 1:
            raise ValueError("pattern needs a group around the number")
        return value

    @field_validator("at_least")
    @classmethod
    def _threshold(cls, value: Any) -> str:
        return str(_decimal(value))

    @model_validator(mode="after")
    def _one_source(self) -> Figure:
        if (self.source is None) == (self.prior_penalties is None):
            raise ValueError("a figure has either 'from' or 'prior_penalties'")
        if self.pattern is not None and self.source is None:
            raise ValueError("'pattern' goes with 'from'")
        return self


class ThresholdRule(_Closed):
    """One criminal-threshold rule, as written in a rule file."""

    id: Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]+-[A-Za-z0-9]+$")]
    title: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=4)]
    offence: str | None = None
    domains: list[str] | None = None
    applies_to: Annotated[list[_Applies], Field(min_length=1)] = Field(
        default_factory=lambda: list(_ALL_APPLIES)
    )
    party: list[PartyKindFilter] | None = None
    when: str | None = None
    figures: dict[str, Figure] = Field(default_factory=dict)
    match: Literal["any", "all"] = "any"

    @field_validator("when")
    @classmethod
    def _when_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_condition(value)
        return value

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, value: list[str] | None) -> list[str] | None:
        for domain in value or []:
            if domain not in DOMAINS:
                raise ValueError(f"unknown domain '{domain}'; expected one of {', '.join(DOMAINS)}")
        return value

    @field_validator("figures")
    @classmethod
    def _figure_names(cls, value: dict[str, Figure]) -> dict[str, Figure]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name.startswith("threshold_"):
                raise ValueError(
                    f"figure name '{name}': use snake_case, not starting with 'threshold_'"
                )
        return value

    @model_validator(mode="after")
    def _decides_something(self) -> ThresholdRule:
        if self.when is None and not self.figures:
            raise ValueError("a rule needs 'when' (a conduct offence) or figures, or both")
        return self


class RuleFile(_Closed):
    """A rule file: the domain and offence its rules share, and the rules."""

    domain: str
    offence: str
    description: str = ""
    rules: Annotated[list[ThresholdRule], Field(min_length=1)]

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, value: str) -> str:
        if value not in DOMAINS:
            raise ValueError(f"unknown domain '{value}'; expected one of {', '.join(DOMAINS)}")
        return value


@dataclass(frozen=True)
class PriorCount:
    """A question to the ledger: how many earlier penalties of this party match?"""

    party: Mapping[str, Any]
    before: dt.datetime
    within_years: int | None
    domain: str | None
    violation_type: str | None
    exclude_message_id: str | None
    exclude_decision_no: str | None


PriorCounter = Callable[[PriorCount], int]
"""Answers a ``PriorCount`` (the ledger's ``count_prior``)."""


@dataclass(frozen=True)
class Hit:
    """A rule that a message meets: the proposal's ``triggered_by`` and its legal source."""

    rule_id: str
    title: str
    offence: str
    source: str
    figures: dict[str, str]

    @property
    def triggered_by(self) -> dict[str, Any]:
        """The canonical ``triggered_by`` object."""
        return {"rule_id": self.rule_id, "figures": dict(self.figures)}


@dataclass(frozen=True)
class _CompiledFigure:
    name: str
    source: Any
    pattern: re.Pattern[str] | None
    prior: PriorPenalties | None
    threshold: Decimal


@dataclass(frozen=True)
class _CompiledRule:
    rule: ThresholdRule
    offence: str
    domains: frozenset[str]
    schemas: frozenset[str]
    when: Any
    figures: tuple[_CompiledFigure, ...]
    path: Path


def _places(value: Decimal) -> str:
    return str(value.quantize(FIGURE_PLACES))


def _number(value: Any, pattern: re.Pattern[str] | None) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if pattern is None:
        try:
            return _decimal(value)
        except ValueError:
            return None
    found = pattern.search(str(value))
    wan = pattern.groupindex.get("wan")
    text = None
    if found is not None:
        text = next((g for i, g in enumerate(found.groups(), 1) if g and i != wan), None)
    if found is None or text is None:
        return None
    try:
        number = _decimal(text)
    except ValueError:
        return None
    if wan is not None and found.group("wan"):
        number *= 10_000
    return number


def _subject_domain(schema: str, view: Mapping[str, Any]) -> str | None:
    payload = view.get("payload") or {}
    if schema == SCHEMAS["case"]:
        return payload.get("domain")
    return (payload.get("agency") or {}).get("domain")


def subject_parties(schema: str, view: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The parties of a case or penalty decision (as canonical JSON objects)."""
    payload = view.get("payload") or {}
    if schema == SCHEMAS["case"]:
        return list(payload.get("parties") or [])
    party = payload.get("party")
    return [party] if party else []


def subject_time(schema: str, view: Mapping[str, Any]) -> dt.datetime:
    """When the conduct was established: the decision, or the case's registration."""
    payload = view.get("payload") or {}
    text = payload.get("decided_at") if schema == SCHEMAS["penalty_decision"] else None
    text = text or payload.get("registered_at") or view.get("occurred_at")
    return dt.datetime.fromisoformat(str(text))


@dataclass
class RuleSet:
    """The loaded rules, compiled once; ``evaluate`` is a plain loop per message."""

    rules: tuple[_CompiledRule, ...] = ()
    issues: list[Issue] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rules)

    def ids(self) -> list[str]:
        """The rule ids, in evaluation order."""
        return [r.rule.id for r in self.rules]

    def get(self, rule_id: str) -> ThresholdRule:
        """The rule with this id (``KeyError`` when unknown)."""
        for compiled in self.rules:
            if compiled.rule.id == rule_id:
                return compiled.rule
        raise KeyError(rule_id)

    def evaluate(self, view: Mapping[str, Any], priors: PriorCounter | None = None) -> list[Hit]:
        """Every rule a canonical envelope (its JSON view) meets, in rule order."""
        schema = str(view.get("schema"))
        domain = _subject_domain(schema, view)
        hits = []
        for compiled in self.rules:
            if schema not in compiled.schemas or domain not in compiled.domains:
                continue
            hit = self._evaluate_one(compiled, schema, domain, view, priors)
            if hit is not None:
                hits.append(hit)
        return hits

    def _evaluate_one(
        self,
        compiled: _CompiledRule,
        schema: str,
        domain: str | None,
        view: Mapping[str, Any],
        priors: PriorCounter | None,
    ) -> Hit | None:
        rule = compiled.rule
        parties = subject_parties(schema, view)
        if rule.party is not None:
            parties = [p for p in parties if p.get("kind") in rule.party]
            if not parties:
                return None
        try:
            if compiled.when is not None and not compiled.when.search(view):
                return None
        except JMESPathError:
            return None
        figures: dict[str, str] = {}
        met: list[bool] = []
        for figure in compiled.figures:
            value = self._figure(figure, schema, domain, view, parties, priors)
            if value is None:
                met.append(False)
                continue
            figures[figure.name] = _places(value) if figure.prior is None else str(value)
            figures[f"threshold_{figure.name}"] = (
                _places(figure.threshold) if figure.prior is None else str(figure.threshold)
            )
            met.append(value >= figure.threshold)
        if met and not (any(met) if rule.match == "any" else all(met)):
            return None
        return Hit(rule.id, rule.title, compiled.offence, rule.source, figures)

    def _figure(
        self,
        figure: _CompiledFigure,
        schema: str,
        domain: str | None,
        view: Mapping[str, Any],
        parties: Sequence[Mapping[str, Any]],
        priors: PriorCounter | None,
    ) -> Decimal | None:
        if figure.prior is None:
            try:
                raw = figure.source.search(view)
            except JMESPathError:
                return None
            return _number(raw, figure.pattern)
        if priors is None:
            return None
        payload = view.get("payload") or {}
        counts = [
            priors(
                PriorCount(
                    party=party,
                    before=subject_time(schema, view),
                    within_years=figure.prior.within_years,
                    domain=domain if figure.prior.same_domain else None,
                    violation_type=figure.prior.violation_type,
                    exclude_message_id=view.get("message_id"),
                    exclude_decision_no=payload.get("decision_no"),
                )
            )
            for party in parties
        ]
        return Decimal(max(counts)) if counts else None


def _compile(rule_file: RuleFile, rule: ThresholdRule, path: Path) -> _CompiledRule:
    figures = tuple(
        _CompiledFigure(
            name,
            compile_condition(f.source) if f.source else None,
            re.compile(f.pattern) if f.pattern else None,
            f.prior_penalties,
            Decimal(f.at_least),
        )
        for name, f in rule.figures.items()
    )
    return _CompiledRule(
        rule=rule,
        offence=rule.offence or rule_file.offence,
        domains=frozenset(rule.domains or [rule_file.domain]),
        schemas=frozenset(SCHEMAS[s] for s in rule.applies_to),
        when=compile_condition(rule.when) if rule.when else None,
        figures=figures,
        path=path,
    )


_KNOWN_KEYS: dict[str, list[str]] = {
    "file": list(RuleFile.model_fields),
    "rule": [f.alias or n for n, f in ThresholdRule.model_fields.items()],
    "figure": [f.alias or n for n, f in Figure.model_fields.items()],
    "prior_penalties": list(PriorPenalties.model_fields),
}


def _known(loc: tuple[Any, ...]) -> list[str]:
    if len(loc) == 1:
        return _KNOWN_KEYS["file"]
    if loc[0] == "rules" and len(loc) == 3:
        return _KNOWN_KEYS["rule"]
    if "prior_penalties" in loc[:-1]:
        return _KNOWN_KEYS["prior_penalties"]
    if "figures" in loc and len(loc) == 5:
        return _KNOWN_KEYS["figure"]
    return []


def _place(node: Any, loc: tuple[Any, ...]) -> tuple[str, str]:
    """``path:line`` and key of an error location; a missing key points at its mapping."""
    current, parent, key = node, None, "-"
    for part in loc:
        if isinstance(current, LineDict) and str(part) in current:
            parent, key, current = current, str(part), current[str(part)]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            parent, current = None, current[part]
        else:
            return where(current if isinstance(current, LineDict) else node), str(part)
    if isinstance(parent, LineDict):
        return where(parent, key), key
    return where(current if isinstance(current, LineDict) else node), key


def _issues_of(exc: ValidationError, node: LineDict) -> Iterable[Issue]:
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        place, key = _place(node, loc)
        hint = ""
        if error["type"] == "extra_forbidden":
            hint = did_you_mean(str(loc[-1]), _known(loc))
            key = str(loc[-1])
        message = str(error["msg"]).removeprefix("Value error, ")
        yield Issue(place, key, message, str(error["type"]), hint)


def load_rules(directory: Path) -> RuleSet:
    """Load and check every ``*.yaml`` rule file in ``directory`` (sorted by name).

    Problems are collected in ``RuleSet.issues`` (the rules that are fine are still loaded);
    ``*.test.yaml`` files are the rules' unit tests and are skipped here.
    """
    issues: list[Issue] = []
    compiled: list[_CompiledRule] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        node = _load(path, issues)
        if node is None:
            continue
        try:
            rule_file = RuleFile.model_validate(dict(node))
        except ValidationError as exc:
            issues.extend(_issues_of(exc, node))
            continue
        for index, rule in enumerate(rule_file.rules):
            rule_node = node["rules"][index]
            if rule.id in seen:
                issues.append(
                    Issue(
                        where(rule_node, "id"),
                        "id",
                        f"rule id '{rule.id}' is also defined at {seen[rule.id]}",
                        "duplicate_rule",
                    )
                )
                continue
            seen[rule.id] = where(rule_node, "id")
            compiled.append(_compile(rule_file, rule, path))
    return RuleSet(tuple(compiled), issues)


def _load(path: Path, issues: list[Issue]) -> LineDict | None:
    try:
        data = load_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        issues.append(Issue(f"{path}:{line}", "-", f"not valid YAML: {exc}", "yaml_syntax"))
        return None
    if not isinstance(data, LineDict):
        issues.append(Issue(f"{path}:1", "-", "a rule file holds a YAML mapping", "yaml_shape"))
        return None
    return data
