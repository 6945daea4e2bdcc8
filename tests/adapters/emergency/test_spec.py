"""The emergency adapter's spec object: message types as the README's table, hooks, config."""

from __future__ import annotations

import pydantic
import pytest

from adapters.emergency import PATH, SPEC
from runner.project import load_project

README_TABLE = {
    "safety_inspection": ("inbound", "enforcement.inspection.v1"),
    "penalty_decision": ("inbound", "enforcement.penalty_decision.v1"),
    "ack": ("outbound", None),
}


def test_message_types_are_exactly_the_readme_table():
    assert {m.id: (m.direction, m.canonical) for m in SPEC.messages} == README_TABLE


def test_both_inbound_message_types_are_served_on_the_one_push_path():
    assert {(w.method, w.path, w.message) for w in SPEC.webhooks} == {
        ("POST", PATH, "safety_inspection"),
        ("POST", PATH, "penalty_decision"),
    }
    assert PATH == "/inbound/emergency"


def test_the_adapter_declares_verify_prepare_and_answer_hooks():
    assert SPEC.verify is not None
    assert SPEC.prepare is not None
    assert SPEC.answer is not None
    assert SPEC.group == "self-built"


def test_the_config_is_closed_and_keeps_the_secret_secret():
    config = SPEC.config.model_validate(dict(SPEC.demo_config))
    assert "yjzf-fj-test-secret-2024" not in repr(config)
    with pytest.raises(pydantic.ValidationError):
        SPEC.config.model_validate({**SPEC.demo_config, "app_secrte": "x"})
    with pytest.raises(pydantic.ValidationError):
        SPEC.config.model_validate({**SPEC.demo_config, "max_body_bytes": 3 * 1024 * 1024})


def test_the_mappings_and_routes_compile_without_problems():
    project = load_project()
    mine = [i for i in project.issues if "emergency" in str(i)]
    assert mine == []
    assert ("emergency", "safety_inspection") in project.inbound
    assert ("emergency", "penalty_decision") in project.inbound
