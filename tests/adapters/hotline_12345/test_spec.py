"""The adapter's spec object: the README's message types, its config and demo config (README §1,
§3); the shared transforms its mappings use are tested in ``tests/runner/mapping``."""

from __future__ import annotations

import re

import pytest

from adapters.hotline_12345 import SPEC, Hotline12345Config
from runner.registry import default_registry
from tests.adapters.hotline_12345.samples import SAMPLES

README = SAMPLES.parent / "README.md"


def _readme_table() -> list[tuple[str, str]]:
    section = README.read_text(encoding="utf-8").split("## 3. Message types")[1].split("## 4.")[0]
    rows = re.findall(r"^\| `([a-z_]+)`[^|]*\| (inbound|outbound)", section, flags=re.M)
    return [(name, direction) for name, direction in rows]


def test_the_message_types_are_exactly_the_readme_table():
    assert [(m.id, m.direction) for m in SPEC.messages] == _readme_table()


def test_each_outbound_call_names_its_answer_and_answers_map_to_outcomes():
    responses = {m.id: m.response for m in SPEC.messages if m.direction == "outbound"}
    assert responses == {"accept": "accept_response", "feedback": "feedback_response"}
    assert SPEC.message("accept_response").canonical == "delivery_outcome"


def test_the_adapter_is_registered_under_its_system_id():
    assert default_registry().get("hotline_12345") is SPEC


def test_the_demo_config_is_the_readme_test_key_and_validates():
    demo = Hotline12345Config.model_validate(dict(SPEC.demo_config))
    assert demo.api_key.get_secret_value() == "fj12345_test_7Qm2xR9vL4kP8sT1"
    assert (demo.connect_timeout_s, demo.read_timeout_s, demo.poll_interval_s) == (5.0, 30.0, 60.0)


def test_an_unknown_config_key_is_an_error():
    with pytest.raises(ValueError, match="extra"):
        Hotline12345Config.model_validate(dict(SPEC.demo_config) | {"apikey": "x"})
