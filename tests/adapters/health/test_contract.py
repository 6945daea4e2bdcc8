"""Every health spec sample maps to its .expected.json, in-process and through ``ebus map``.

The generic tests/contract suite runs the same samples for every registered adapter; this one
pins the health samples so that they are checked even while another adapter breaks the
generic collection.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.adapter_api import RawMessage
from runner.cli import app
from runner.dryrun import map_message
from tests.adapters.health.samples import PROJECT, SAMPLES

STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")
PAGES = sorted(p for p in SAMPLES.glob("cases_page-*.json") if ".expected" not in p.name)


def _expected(path: Path) -> list[Any]:
    data = json.loads(path.with_name(path.stem + ".expected.json").read_bytes())
    return data if isinstance(data, list) else [data]


def _unstamped(envelope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in envelope.items() if k not in STAMPED}


def test_the_spec_has_the_four_samples_the_readme_lists():
    assert [p.name for p in PAGES] == [f"cases_page-{n}.json" for n in (1, 2, 3, 4)]


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_a_sample_page_maps_to_its_expected_envelopes(path: Path):
    result = map_message(PROJECT, "health", "cases_page", RawMessage(body=path.read_bytes()))
    assert result.outcome is None
    assert result.rejected == []
    got = [_unstamped(e.model_dump(mode="json")) for e in result.envelopes]
    assert got == _expected(path)


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_ebus_map_prints_the_expected_envelopes(path: Path):
    result = CliRunner().invoke(app, ["map", "health", "cases_page", str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [_unstamped(line) for line in lines] == _expected(path)
    assert all(line["message_id"] and line["received_at"] for line in lines)


def test_the_case_comes_before_its_decision_and_the_decision_id_extends_the_case_id():
    result = map_message(
        PROJECT,
        "health",
        "cases_page",
        RawMessage(body=(SAMPLES / "cases_page-3.json").read_bytes()),
    )
    assert [(e.schema_name, e.source_message_id) for e in result.envelopes] == [
        ("enforcement.case.v1", "1792004419301863425:v2"),
        ("enforcement.penalty_decision.v1", "1792004419301863425:v2:decision"),
        ("enforcement.case.v1", "1793118836455112706:v1"),
    ]


def test_the_readme_example_case_code_is_reproduced():
    result = map_message(
        PROJECT,
        "health",
        "cases_page",
        RawMessage(body=(SAMPLES / "cases_page-2.json").read_bytes()),
    )
    assert {e.case_code for e in result.envelopes} == {"FJ3504052025WJDFA14A67"}
