"""The adapter's spec object: registered, complete, its config closed and secret-safe."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from adapters.ip_supervision import SPEC, IpSupervisionConfig
from runner.registry import default_registry
from tests.adapters.ip_supervision._support import PROJECT, SAMPLES


def test_the_adapter_is_registered_under_its_system_id():
    assert default_registry().get("ip_supervision") is SPEC


def test_every_message_type_of_the_readme_is_declared_with_its_direction():
    readme = (SAMPLES.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Message types", 1)[1].split("There is no inbound", 1)[0]
    declared = {(m.id, m.direction) for m in SPEC.messages}
    assert set(re.findall(r"^\| `(\w+)` \| (inbound|outbound)", table, re.M)) == declared


def test_both_uploads_are_answered_by_upload_response():
    assert {m.id: m.response for m in SPEC.messages if m.direction == "outbound"} == {
        "upload_inspection": "upload_response",
        "upload_penalty": "upload_response",
    }


def test_every_message_type_has_a_mapping_and_the_mappings_lint_clean():
    mapped = {m for s, m in (*PROJECT.inbound, *PROJECT.outbound) if s == "ip_supervision"}
    assert mapped == {m.id for m in SPEC.messages}
    assert [i for i in PROJECT.issues if "ip_supervision" in i.where] == []


def test_the_outbound_mappings_take_1_to_200_messages_per_call():
    for message in ("upload_inspection", "upload_penalty"):
        assert PROJECT.outbound_mapping("ip_supervision", message).batch_max == 200


def test_the_demo_config_holds_the_published_test_credentials():
    config = IpSupervisionConfig.model_validate(dict(SPEC.demo_config))
    assert config.app_id == "FJMZF0001"
    assert config.app_secret.get_secret_value() == "b6e1d4a9c2f74e0b8a3d5c7e9f1a2b4c"
    assert (config.connect_timeout_s, config.read_timeout_s) == (10.0, 60.0)


def test_the_secret_never_appears_in_a_repr_or_a_dump():
    config = IpSupervisionConfig.model_validate(dict(SPEC.demo_config))
    assert "b6e1d4a9" not in repr(config)
    assert "b6e1d4a9" not in str(config.model_dump())


def test_the_config_refuses_unknown_keys():
    with pytest.raises(ValidationError, match="extra"):
        IpSupervisionConfig.model_validate(dict(SPEC.demo_config) | {"app_secrte": "x"})
