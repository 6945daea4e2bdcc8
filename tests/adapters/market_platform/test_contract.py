"""Contract: every market_platform sample — task files map to their expected envelopes, results
render to their XML byte for byte with the sample's marker, in-process and through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters._transports.filedrop import Marker
from adapters.market_platform import SPEC, read_task_file
from runner.adapter_api import RawMessage
from runner.cli import app
from runner.dryrun import map_message, render_message
from tests.adapters.market_platform._support import (
    PROJECT,
    SAMPLES,
    expected,
    inputs,
    unstamped,
)

TASKS = ["task-1", "task-2", "task-3"]
RESULTS = ["result-1", "result-2", "result-3"]
REAL_NAMES = {
    "task-1": "TASK_20250408_001.csv",
    "task-2": "TASK_20250409_002.csv",
    "task-3": "TASK_20250410_001.csv",
}


def test_every_sample_of_the_spec_is_under_contract():
    stems = {p.name.split(".")[0] for p in SAMPLES.iterdir()}
    assert stems == set(TASKS) | set(RESULTS)


def test_the_message_types_are_those_of_the_readme_table():
    assert [(m.id, m.direction) for m in SPEC.messages] == [
        ("task", "inbound"),
        ("result", "outbound"),
    ]


@pytest.mark.parametrize("stem", TASKS)
def test_a_task_file_maps_to_one_planned_inspection_per_row(stem: str):
    raw = RawMessage((SAMPLES / f"{stem}.csv").read_bytes(), meta={"file": REAL_NAMES[stem]})
    result = map_message(PROJECT, "market_platform", "task", raw)
    assert result.rejected == []
    assert [unstamped(e.model_dump(mode="json")) for e in result.envelopes] == expected(stem)


@pytest.mark.parametrize("stem", TASKS)
def test_ebus_map_prints_the_expected_envelopes_of_a_task_file(stem: str):
    outcome = CliRunner().invoke(
        app, ["map", "market_platform", "task", str(SAMPLES / f"{stem}.csv")]
    )
    assert outcome.exit_code == 0, outcome.output
    lines = [json.loads(line) for line in outcome.stdout.splitlines() if line.strip()]
    assert [unstamped(line) for line in lines] == expected(stem)


@pytest.mark.parametrize("stem", TASKS)
def test_the_sample_marker_of_a_task_file_checks_its_name_md5_and_rows(stem: str):
    data = (SAMPLES / f"{stem}.csv").read_bytes()
    marker = Marker.parse((SAMPLES / f"{stem}.csv.ok").read_bytes())
    marker.check(REAL_NAMES[stem], data, len(read_task_file(data).rows))
    assert marker.count == len(expected(stem))


@pytest.mark.parametrize("stem", RESULTS)
def test_a_result_renders_to_its_sample_file_byte_for_byte(stem: str):
    call = render_message(PROJECT, "market_platform", "result", inputs(stem), {})
    assert call.body == (SAMPLES / f"{stem}.xml").read_bytes()
    marker = Marker.for_file(call.path, len(inputs(stem)), call.body)
    assert marker.render() == (SAMPLES / f"{stem}.xml.ok").read_bytes()


@pytest.mark.parametrize("stem", RESULTS)
def test_ebus_render_prints_the_sample_file_and_names_it(stem: str):
    path = str(SAMPLES / f"{stem}.input.json")
    outcome = CliRunner().invoke(app, ["render", "market_platform", "result", path])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout_bytes == (SAMPLES / f"{stem}.xml").read_bytes()
    headed = CliRunner().invoke(app, ["render", "--headers", "market_platform", "result", path])
    task = inputs(stem)[0]["payload"]["task_id"]
    assert headed.stdout.splitlines()[0] == f"PUT RESULT_{task}.xml"
