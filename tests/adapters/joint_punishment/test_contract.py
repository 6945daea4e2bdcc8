"""The shared contract for this adapter's samples alone, so that ``-k joint_punishment`` runs it:
every answer sample maps to its ``.expected.json`` (in-process and through ``ebus map``), every
``.input.json`` renders to its ``.json`` body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.adapter_api import RawMessage
from runner.cli import app
from runner.dryrun import map_message, render_message
from tests.adapters.joint_punishment.samples import PROJECT, SAMPLES

STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")
ANSWERS = sorted(
    p
    for p in SAMPLES.glob("*_response-*.json")
    if ".expected" not in p.name and p.with_name(p.name.split(".")[0] + ".expected.json").exists()
)
"""Answer samples with an expected output (``token_response`` is the connection's: no mapping)."""
INPUTS = sorted(SAMPLES.glob("*.input.json"))


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def _expected(path: Path) -> Any:
    return json.loads((SAMPLES / f"{_stem(path)}.expected.json").read_bytes())


def test_every_answer_sample_with_an_expected_output_is_under_contract():
    assert [_stem(p) for p in ANSWERS] == [
        "dishonest_query_response-1",
        "dishonest_query_response-2",
        "feedback_response-1",
        "feedback_response-2",
    ]


@pytest.mark.parametrize("path", ANSWERS, ids=_stem)
def test_joint_punishment_answer_sample_maps_to_its_expected_output(path: Path):
    message = _stem(path).rsplit("-", 1)[0]
    result = map_message(PROJECT, "joint_punishment", message, RawMessage(body=path.read_bytes()))
    if result.outcome is not None:
        assert result.outcome.model_dump(mode="json") == _expected(path)
    else:
        got = [e.model_dump(mode="json") for e in result.envelopes]
        assert [{k: v for k, v in e.items() if k not in STAMPED} for e in got] == _expected(path)


@pytest.mark.parametrize("path", ANSWERS, ids=_stem)
def test_joint_punishment_ebus_map_prints_the_expected_output(path: Path):
    message = _stem(path).rsplit("-", 1)[0]
    result = CliRunner().invoke(app, ["map", "joint_punishment", message, str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    want = _expected(path)
    if isinstance(want, dict):
        assert lines == [want]
    else:
        assert [{k: v for k, v in e.items() if k not in STAMPED} for e in lines] == want


@pytest.mark.parametrize("path", INPUTS, ids=_stem)
def test_joint_punishment_input_sample_renders_to_its_wire_body(path: Path):
    message = _stem(path).rsplit("-", 1)[0]
    item = json.loads(path.read_bytes())
    call = render_message(PROJECT, "joint_punishment", message, [item], {})
    assert call.body == (SAMPLES / f"{_stem(path)}.json").read_bytes()
