"""The adapter's spec object: registered, complete, and its config closed and secret-safe."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from adapters.credit_fj import SPEC, CreditFjConfig
from runner.registry import default_registry
from tests.adapters.credit_fj.samples import PROJECT, SAMPLES


def test_the_adapter_is_registered_under_its_system_id():
    assert default_registry().get("credit_fj") is SPEC


def test_every_message_type_of_the_readme_is_declared():
    readme = (SAMPLES.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Message types", 1)[1].split("Volumes", 1)[0]
    declared = {(m.id, m.direction) for m in SPEC.messages}
    assert set(re.findall(r"^\| `(\w+)` \| (inbound|outbound)", table, re.M)) == declared


def test_every_message_type_has_a_mapping_and_the_mappings_lint_clean():
    ids = {m.id for m in SPEC.messages}
    mapped = {msg for system, msg in (*PROJECT.inbound, *PROJECT.outbound) if system == "credit_fj"}
    assert mapped == ids
    assert [i for i in PROJECT.issues if "credit_fj" in i.where] == []


def test_the_config_refuses_unknown_keys():
    with pytest.raises(ValidationError, match="extra"):
        CreditFjConfig.model_validate(dict(SPEC.demo_config) | {"app_secrte": "x"})
