"""Contract tests: every inbound sample of every installed adapter maps to its .expected.json.

Run both in-process and through ``ebus map``. A sample of an installed adapter without a mapping
fails: an adapter is done only when all its samples pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.dryrun import map_message
from runner.project import load_project
from runner.sample_facts import expected_path, raw_sample, wire_samples
from tests.conftest import SPECS

PROJECT = load_project()
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def _wire_samples() -> list[tuple[str, str, Path]]:
    cases = []
    for system in PROJECT.registry.ids():
        adapter = PROJECT.registry.get(system)
        for message in adapter.messages:
            if message.direction == "inbound":
                cases += [(system, message.id, p) for p in wire_samples(system, message.id, SPECS)]
    return cases


CASES = _wire_samples()


def _expected(path: Path) -> Any:
    return json.loads(expected_path(path).read_bytes())


def _unstamped(envelope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in envelope.items() if k not in STAMPED}


def _comparable(expected: Any) -> Any:
    return expected if isinstance(expected, list) or "outcome" in expected else [expected]


def test_every_installed_adapter_has_samples_under_contract():
    assert {system for system, _, _ in CASES} == set(PROJECT.registry.ids())


@pytest.mark.parametrize(
    ("system", "message", "path"), CASES, ids=[f"{s}/{p.name}" for s, _, p in CASES]
)
def test_inbound_sample_maps_to_its_expected_output(system: str, message: str, path: Path):
    result = map_message(PROJECT, system, message, raw_sample(path, SPECS))
    if result.outcome is not None:
        got: Any = result.outcome.model_dump(mode="json")
    else:
        got = [_unstamped(e.model_dump(mode="json")) for e in result.envelopes]
    assert got == _comparable(_expected(path))


@pytest.mark.parametrize(
    ("system", "message", "path"), CASES, ids=[f"{s}/{p.name}" for s, _, p in CASES]
)
def test_ebus_map_prints_the_expected_output(system: str, message: str, path: Path):
    raw = raw_sample(path, SPECS)
    facts = [f"--meta={k}={v}" for k, v in raw.meta.items()]
    facts += [f"--header={k}={v}" for k, v in raw.headers.items()]
    result = CliRunner().invoke(app, ["map", system, message, str(path), *facts])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    expected = _comparable(_expected(path))
    if isinstance(expected, dict):
        assert lines == [expected]
    else:
        assert [_unstamped(line) for line in lines] == expected
        assert all(line["message_id"] and line["received_at"] for line in lines)
