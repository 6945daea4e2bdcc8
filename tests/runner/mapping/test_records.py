"""A bad record of a multi-record document is rejected alone; the others are mapped."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from runner.cli import app
from runner.project import load_project
from tests.conftest import SPECS

PAGE = SPECS / "systems/eco_env/samples/get_case_list_response-1.xml"  # two cases
GOOD, BAD = "91350521MA345T8L5P", "91350521MA345T8L5Q"  # the second case's USCC, broken


def _page_with_a_bad_second_case() -> bytes:
    raw = PAGE.read_bytes()
    assert raw.count(GOOD.encode()) == 1
    return raw.replace(GOOD.encode(), BAD.encode())


def test_the_good_record_is_mapped_and_the_bad_one_rejected_with_its_place():
    mapping = load_project().inbound_mapping("eco_env", "get_case_list_response")
    result = mapping.apply(_page_with_a_bad_second_case())
    assert [e.payload.source_case_no for e in result.envelopes] == ["HJZF-350521-2025-0012"]
    (rejection,) = result.rejected
    assert rejection.rule == "uscc_check"
    assert rejection.field == "payload.parties[0].uscc"
    assert rejection.reason.startswith("record 2 of 2: ")


def test_ebus_map_prints_the_good_record_and_names_the_bad_one(tmp_path: Path):
    page = tmp_path / "page.xml"
    page.write_bytes(_page_with_a_bad_second_case())
    result = CliRunner().invoke(app, ["map", "eco_env", "get_case_list_response", str(page)])
    assert result.exit_code == 1
    assert len(result.stdout.strip().splitlines()) == 1
    assert "rejected: eco_env get_case_list_response: payload.parties[0].uscc: record 2 of 2" in (
        result.stderr
    )
