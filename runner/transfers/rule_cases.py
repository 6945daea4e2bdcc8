"""The threshold rules' config unit tests: ``routes/transfer-rules/*.test.yaml``.

Each case builds a minimal canonical message in the rule's domain (a penalty decision, or a case
with ``schema: case``) with the ``payload`` fields it sets, asks the rules with ``priors`` as the
ledger's answer, and expects the rule to ``hit`` (with ``figures`` when given) or to ``miss``.
``ebus test`` runs them beside the mapping and route tests; no broker, store or network.

Example::

    cases:
      - {name: "SC-XS140-01 hits: sales 50,000.00", rule: SC-XS140-01, expect: hit,
         schema: case, payload: {violation_type: 销售不合格产品, involved_amount_yuan: "50000.00"}}
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from runner.transfers.rules import RuleSet

__all__ = ["case_message", "rule_cases", "run_rule_case"]

_PARTY_USCC = "91350100MA2Y7K3F61"
_MESSAGE_ID = "01JTZ6Q8M4V2A7K9C1E3G5H7J9"


def rule_cases(path: Path) -> Iterator[dict[str, Any]]:
    """The cases of one ``*.test.yaml`` file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    yield from data.get("cases") or []


def case_message(case: dict[str, Any], rules: RuleSet) -> dict[str, Any]:
    """The minimal canonical message (JSON view) a case describes."""
    rule = rules.get(case["rule"])
    domain = case.get("domain") or (rule.domains or [case["rule"].split("-", 1)[0]])[0]
    party = {"kind": case.get("party", "legal_person"), "uscc": _PARTY_USCC}
    if case.get("schema", "penalty_decision") == "case":
        payload: dict[str, Any] = {
            "domain": domain,
            "parties": [party],
            "registered_at": "2025-03-01T00:00:00+08:00",
        }
        schema = "enforcement.case.v1"
    else:
        payload = {
            "agency": {"domain": domain},
            "party": party,
            "decision_no": "测罚〔2025〕1号",
            "decided_at": "2025-03-01T00:00:00+08:00",
        }
        schema = "enforcement.penalty_decision.v1"
    payload |= {"violation_type": None, "facts": None} | dict(case.get("payload") or {})
    return {"schema": schema, "message_id": _MESSAGE_ID, "payload": payload}


def run_rule_case(case: dict[str, Any], rules: RuleSet) -> tuple[bool, str]:
    """Run one case: ``(passed, what differed)``."""
    priors = int(case.get("priors", 0))
    hits = {h.rule_id: h for h in rules.evaluate(case_message(case, rules), lambda _q: priors)}
    rule = case["rule"]
    if case["expect"] == "miss":
        return (rule not in hits, "" if rule not in hits else f"{rule} hit, expected a miss")
    if rule not in hits:
        return False, f"{rule} did not hit; hits: {sorted(hits) or 'none'}"
    expected = case.get("figures")
    if expected is not None and hits[rule].figures != expected:
        return False, f"figures {hits[rule].figures}, expected {expected}"
    return True, ""
