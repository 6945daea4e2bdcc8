"""The health routes: cases to the case feed; decisions to their feed and to 信用福建, whose
penalty_push renders them (the party masked for publicity)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runner.adapter_api import RawMessage
from runner.dryrun import map_message, render_message
from runner.engine.plan import build_plans
from tests.adapters.health.samples import PROJECT, SAMPLES


def _envelopes(n: int) -> list[dict[str, Any]]:
    raw = RawMessage(body=(SAMPLES / f"cases_page-{n}.json").read_bytes())
    result = map_message(PROJECT, "health", "cases_page", raw)
    return [e.model_dump(mode="json") for e in result.envelopes]


def _destinations(envelope: dict[str, Any]) -> list[str]:
    plans = build_plans(PROJECT)[("health", "cases_page")]
    return sorted(f"{p.route.id}:{d.key}" for p in plans for d in p.select(envelope))


def test_the_routes_lint_clean():
    assert [str(i) for i in PROJECT.issues if "health" in str(i)] == []
    assert {"health-cases", "health-penalties"} <= set(PROJECT.routes)


def test_a_case_goes_to_the_case_feed_only():
    case = _envelopes(3)[2]
    assert _destinations(case) == ["health-cases:feed-enforcement_case_v1"]


def test_a_decision_goes_to_its_feed_and_to_credit_fj():
    decision = _envelopes(3)[1]
    assert _destinations(decision) == [
        "health-penalties:credit_fj-penalty_push",
        "health-penalties:feed-enforcement_penalty_decision_v1",
    ]


@pytest.mark.parametrize(
    ("n", "index"), [(1, 2), (2, 1), (3, 1)], ids=["organisation", "individual business", "person"]
)
def test_credit_fj_renders_every_sample_decision(n: int, index: int):
    decision = _envelopes(n)[index]
    call = render_message(
        PROJECT, "credit_fj", "penalty_push", [decision], {"now": "2025-06-05T10:00:00+08:00"}
    )
    text = call.body.decode("utf-8")
    assert decision["payload"]["decision_no"] in text
    assert "350427197003121531" not in text  # the publicity view masks a person's id number


def test_the_person_is_masked_in_the_credit_fj_push():
    call = render_message(
        PROJECT,
        "credit_fj",
        "penalty_push",
        [_envelopes(3)[1]],
        {"now": "2025-06-05T10:00:00+08:00"},
    )
    body = json.loads(call.body)
    assert "黄**" in json.dumps(body, ensure_ascii=False)
