"""Threshold rules: loading with located problems, and a hit and a near miss for every rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.transfers import RuleSet, load_rules
from runner.transfers.rule_cases import run_rule_case
from runner.transfers.rules import PriorCount
from tests.transfers.conftest import RULES_DIR, SYSTEMS

CASES_FILE = RULES_DIR / "thresholds.test.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_each_rule_hits_at_its_threshold_and_misses_just_below(
    case: dict[str, Any], rules: RuleSet
) -> None:
    ok, detail = run_rule_case(case, rules)
    assert ok, detail


def test_a_wrong_expectation_fails_its_case(rules: RuleSet) -> None:
    hit = next(c for c in CASES if c["expect"] == "hit")
    assert run_rule_case({**hit, "expect": "miss"}, rules)[0] is False
    assert run_rule_case({**hit, "figures": {"nothing": "0"}}, rules)[0] is ("figures" not in hit)


def test_every_rule_has_a_hit_and_a_near_miss_case(rules: RuleSet) -> None:
    for rule_id in rules.ids():
        expects = {c["expect"] for c in CASES if c["rule"] == rule_id}
        assert expects == {"hit", "miss"}, rule_id


def test_every_rule_cites_its_legal_source(rules: RuleSet) -> None:
    for rule_id in rules.ids():
        source = rules.get(rule_id).source
        assert "《中华人民共和国刑法》" in source or "法释" in source, rule_id


def _envelope(path: str, index: int = 0) -> dict[str, Any]:
    data = json.loads((SYSTEMS / path).read_text(encoding="utf-8"))
    return dict(data[index] if isinstance(data, list) else data)


def test_the_eco_env_hazardous_waste_sample_crosses_the_three_tonne_threshold(
    rules: RuleSet,
) -> None:
    hits = rules.evaluate(_envelope("eco_env/samples/get_case_list_response-2.expected.json"))
    assert [(h.rule_id, h.figures) for h in hits] == [
        (
            "HJ-XS338-02",
            {"hazardous_waste_tonnes": "3.60", "threshold_hazardous_waste_tonnes": "3.00"},
        )
    ]
    assert hits[0].offence == "污染环境罪"
    assert "法释〔2023〕7号第一条第（二）项" in hits[0].source


@pytest.mark.parametrize(
    "path",
    [
        "eco_env/samples/get_penalty_decision_response-1.expected.json",
        "eco_env/samples/get_case_list_response-1.expected.json",
        "fire_national/samples/tasks-2.expected.json",
        "market_reg/samples/decisions-2.expected.json",
    ],
    ids=["未批先建", "超标排放 without a multiple", "a fire with 35.6万 loss", "false advert"],
)
def test_samples_below_every_threshold_raise_nothing(path: str, rules: RuleSet) -> None:
    data = json.loads((SYSTEMS / path).read_text(encoding="utf-8"))
    for envelope in data if isinstance(data, list) else [data]:
        assert rules.evaluate(envelope, lambda _q: 0) == []


def test_prior_penalty_rules_ask_the_ledger_about_the_right_party_and_window(
    rules: RuleSet,
) -> None:
    asked: list[PriorCount] = []
    envelope = _envelope("drug_admin/samples/query_penalties-1.expected.json", 1)
    envelope["message_id"] = "01JTZ6Q8M4V2A7K9C1E3G5H7J9"

    def priors(query: PriorCount) -> int:
        asked.append(query)
        return 2

    hits = rules.evaluate(envelope, priors)
    assert [h.rule_id for h in hits] == ["SC-XS225-03"]
    assert hits[0].figures == {"prior_penalties_2y": "2", "threshold_prior_penalties_2y": "2"}
    (query,) = asked
    assert query.within_years == 2
    assert query.domain is None
    assert query.exclude_decision_no == "厦市监药罚〔2024〕12号"
    assert query.party["kind"] == "natural_person"


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_misspelt_key_is_reported_with_file_line_and_a_hint(tmp_path: Path) -> None:
    directory = _write(
        tmp_path,
        "domain: HJ\noffence: 污染环境罪\nrules:\n  - id: HJ-T-01\n    title: t\n"
        '    source: 法释〔2023〕7号第一条\n    whan: "payload.facts != null"\n',
    )
    (issue,) = load_rules(directory).issues
    assert issue.where.endswith("rules.yaml:7")
    assert issue.key == "whan"
    assert issue.code == "extra_forbidden"
    assert issue.hint == "did you mean 'when'?"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ('    when: "contains(payload.facts,"\n', "value_error", "does not compile"),
        (
            "    figures:\n      t: {from: payload.facts, pattern: '([0-9]+', at_least: '3'}\n",
            "value_error",
            "pattern does not compile",
        ),
        (
            "    figures:\n      t: {from: payload.facts, at_least: 'three'}\n",
            "value_error",
            "not a decimal",
        ),
        ('    domains: [XX]\n    when: "payload.facts"\n', "value_error", "unknown domain"),
        ('    party: [robot]\n    when: "payload.facts"\n', "literal_error", "Input should be"),
    ],
    ids=["bad JMESPath", "bad regex", "bad threshold", "unknown domain", "unknown party kind"],
)
def test_a_broken_rule_is_refused_with_its_line(
    tmp_path: Path, body: str, code: str, words: str
) -> None:
    head = "domain: HJ\noffence: 污染环境罪\nrules:\n  - id: HJ-T-01\n    title: t\n"
    directory = _write(tmp_path, head + "    source: 法释〔2023〕7号第一条\n" + body)
    issues = load_rules(directory).issues
    assert issues, "expected a problem"
    assert issues[0].code == code
    assert words in issues[0].message
    assert ":" in issues[0].where
    assert issues[0].where.split(":")[-1].isdigit()


def test_a_rule_without_source_or_with_a_repeated_id_is_refused(tmp_path: Path) -> None:
    head = "domain: HJ\noffence: 污染环境罪\nrules:\n"
    rule = '  - id: {id}\n    title: t\n{source}    when: "payload.facts"\n'
    source = "    source: 法释〔2023〕7号第一条\n"
    (tmp_path / "a.yaml").write_text(head + rule.format(id="HJ-T-01", source=source), "utf-8")
    (tmp_path / "b.yaml").write_text(head + rule.format(id="HJ-T-01", source=source), "utf-8")
    (tmp_path / "c.yaml").write_text(head + rule.format(id="HJ-T-02", source=""), "utf-8")
    loaded = load_rules(tmp_path)
    assert loaded.ids() == ["HJ-T-01"]
    duplicate, missing = loaded.issues
    assert duplicate.code == "duplicate_rule"
    assert duplicate.where.endswith("b.yaml:4")
    assert "a.yaml:4" in duplicate.message
    assert missing.code == "missing"
    assert missing.where.endswith("c.yaml:4")


def test_yaml_on_is_not_a_key_trap_the_rule_key_is_applies_to(tmp_path: Path) -> None:
    directory = _write(
        tmp_path,
        "domain: HJ\noffence: x\nrules:\n  - id: HJ-T-01\n    title: t\n"
        '    source: 法释〔2023〕7号第一条\n    when: "payload.facts"\n    on: [case]\n',
    )
    (issue,) = load_rules(directory).issues
    assert issue.code == "extra_forbidden"
