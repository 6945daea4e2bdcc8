"""The ``ebus`` command line: help, schema export and validation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from tests.conftest import SPECS, sample_files

runner = CliRunner()


def test_the_console_script_prints_help():
    ebus = shutil.which("ebus", path=str(Path(sys.executable).parent))
    assert ebus, "the ebus console script is not installed in the environment"
    result = subprocess.run([ebus, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "schemas" in result.stdout


@pytest.mark.parametrize(
    "command",
    [["schemas", "--help"], ["schemas", "export", "--help"], ["schemas", "validate", "--help"]],
)
def test_every_command_has_help(command: list[str]):
    result = runner.invoke(app, command)
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_schemas_export_writes_the_files(tmp_path: Path):
    result = runner.invoke(app, ["schemas", "export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "asyncapi.yaml").is_file()
    assert (tmp_path / "out" / "json-schema" / "enforcement.case.v1.json").is_file()


def test_schemas_validate_accepts_every_expected_sample():
    files = [str(p) for p in sample_files("*.expected.json")]
    result = runner.invoke(app, ["schemas", "validate", "-q", *files])
    assert result.exit_code == 0, result.output
    assert f"{len(files)} valid, 0 invalid" in result.output


def test_schemas_validate_names_file_field_and_rule_and_exits_1(tmp_path: Path):
    item = json.loads((SPECS / "systems/credit_fj/samples/penalty_push-1.input.json").read_bytes())[
        1
    ]
    item["payload"]["party"]["id_number"] = "350427197511203155"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(item, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["schemas", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: payload.party.id_number:" in result.output
    assert "[id_number_check]" in result.output
    assert "350427197511203155" not in result.output


def test_schemas_validate_reports_unreadable_json_without_a_traceback(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe{not json")
    result = runner.invoke(app, ["schemas", "validate", str(bad)])
    assert result.exit_code == 1
    assert "not readable JSON" in result.output
    assert "Traceback" not in result.output
