"""The adapter's spec object: message types as the README table, config documented and closed."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from adapters.health import SPEC, HealthConfig
from adapters.health.config import TEST_API_KEY
from runner.registry import default_registry
from tests.adapters.health.samples import SAMPLES, config

README = SAMPLES.parent / "README.md"


def test_message_type_ids_are_exactly_those_of_the_readme_table():
    text = README.read_text(encoding="utf-8")
    table = text.split("### Message types", 1)[1].split("## 2.", 1)[0]
    ids = re.findall(r"^\| `([a-z0-9_]+)` \|", table, flags=re.MULTILINE)
    assert [m.id for m in SPEC.messages] == ids == ["cases_page"]
    assert SPEC.message("cases_page").direction == "inbound"


def test_the_adapter_is_registered_under_its_system_id():
    assert default_registry().get("health") is SPEC


def test_the_demo_config_is_a_valid_config():
    settings = HealthConfig.model_validate(dict(SPEC.demo_config))
    assert settings.initial_since_ms == 1735660800000


def test_every_config_key_is_documented_in_the_model_docstring():
    doc = HealthConfig.__doc__ or ""
    missing = [name for name in HealthConfig.model_fields if f"``{name}``" not in doc]
    assert missing == []


def test_an_unknown_key_is_an_error():
    with pytest.raises(ValidationError, match="extra"):
        config(pagesize=10)


def test_the_api_key_never_shows_in_a_repr_or_an_error():
    settings = config()
    assert TEST_API_KEY not in repr(settings)
    with pytest.raises(ValidationError) as caught:
        config(api_key="short-but-secret-value")
    assert "short-but-secret-value" not in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [{"page_size": 0}, {"page_size": 101}, {"initial_since": "1970-01-01T00:00:00+08:00"}],
    ids=["size 0", "size above 100", "an epoch-zero start (the whole history)"],
)
def test_settings_outside_the_spec_are_refused(changes: dict[str, object]):
    with pytest.raises(ValidationError):
        config(**changes)


def test_mutual_tls_needs_the_certificate_its_key_and_the_pinned_ca_together(tmp_path):
    with pytest.raises(ValidationError, match="together"):
        config(client_cert=str(tmp_path / "c.pem"))


def test_a_go_live_time_without_an_offset_is_beijing_time():
    assert config(initial_since="2025-01-01T00:00:00").initial_since_ms == 1735660800000
