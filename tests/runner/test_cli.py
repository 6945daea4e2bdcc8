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


def test_ebus_lint_finds_no_problem_in_the_shipped_config():
    result = runner.invoke(app, ["lint"])
    assert result.exit_code == 0, result.output
    assert "0 problems" in result.output


def test_ebus_test_runs_the_shipped_config_tests():
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_ebus_test_prints_a_diff_and_exits_1_when_a_case_fails(tmp_path: Path):
    folder = tmp_path / "eco_env"
    folder.mkdir()
    sample = SPECS / "systems/eco_env/samples/get_case_list_response-4.xml"
    (folder / "get_case_list_response.test.yaml").write_text(
        "cases:\n"
        "  - name: wrong on purpose\n"
        f"    input_file: {sample}\n"
        '    expect: {"outcome": "batch_retry", "code": "1002", "retry_after_s": null,'
        ' "records": []}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["test", str(folder / "get_case_list_response.test.yaml")])
    assert result.exit_code == 1
    assert '-  "outcome": "batch_retry"' in result.output
    assert '+  "outcome": "batch_failed"' in result.output


def test_ebus_render_prints_the_call_carrying_the_exact_task_xml():
    from lxml import etree  # noqa: PLC0415

    sample = SPECS / "systems/eco_env/samples/push_joint_task-1.input.json"
    result = runner.invoke(app, ["render", "eco_env", "push_joint_task", str(sample)])
    assert result.exit_code == 0, result.output
    call = etree.fromstring(result.stdout_bytes)
    task_xml = call.findtext(".//{http://tempuri.org/}taskXml")
    expected = (SPECS / "systems/eco_env/samples/push_joint_task-1.taskxml.xml").read_bytes()
    assert task_xml is not None
    assert task_xml.encode("utf-8") == expected.rstrip(b"\n")


def test_ebus_map_rejects_hostile_xml_with_one_line_and_no_traceback(tmp_path: Path):
    laughs = tmp_path / "laughs.xml"
    laughs.write_text(
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["map", "eco_env", "get_case_list_response", str(laughs)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "rejected: eco_env get_case_list_response: XML with a DTD or entity declaration is "
        "refused [xml_dtd]"
    ]


def test_ebus_map_rejects_a_huge_payload(tmp_path: Path):
    huge = tmp_path / "huge.xml"
    huge.write_bytes(b"<a>" + b"x" * (10 * 1024 * 1024) + b"</a>")
    result = runner.invoke(app, ["map", "eco_env", "get_case_list_response", str(huge)])
    assert result.exit_code == 1
    assert "[too_large]" in result.output


def test_ebus_lint_names_a_misspelt_mapping_key_with_its_line_and_a_hint(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    folder = tmp_path / "mappings" / "eco_env"
    folder.mkdir(parents=True)
    shutil.copytree(root / "mappings" / "codes", tmp_path / "mappings" / "codes")
    text = (root / "mappings/eco_env/get_case_list_response.yaml").read_text(encoding="utf-8")
    (folder / "get_case_list_response.yaml").write_text(
        text.replace("\nrecords:", "\nrecrods:"), encoding="utf-8"
    )
    result = runner.invoke(app, ["lint", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "'recrods': unknown mapping key (hint: did you mean 'records'?) [unknown_key]" in (
        result.output
    )
