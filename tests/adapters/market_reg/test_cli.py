"""``ebus map market_reg <kind> FILE --meta manifest=PATH``: the dry run of README §8."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from runner.cli import app
from tests.adapters.market_reg._support import SAMPLES, sample


def test_a_file_changed_after_the_manifest_fails_the_dry_run_naming_field_and_rule(
    tmp_path: Path,
):
    changed = tmp_path / "decisions_20240305.jsonl"
    changed.write_bytes(sample("decisions-1.jsonl").replace("罚款".encode(), "警告".encode()))
    manifest = SAMPLES / "manifest-1.json"
    result = CliRunner().invoke(
        app, ["map", "market_reg", "decisions", str(changed), f"--meta=manifest={manifest}"]
    )
    assert result.exit_code == 1
    assert "market_reg decisions: manifest.files[decisions_20240305.jsonl]" in result.output
    assert "[size_mismatch]" in result.output or "[sha256_mismatch]" in result.output
    assert "Traceback" not in result.output


def test_a_dry_run_without_the_manifest_is_refused():
    result = CliRunner().invoke(app, ["map", "market_reg", "cases", str(SAMPLES / "cases-1.jsonl")])
    assert result.exit_code == 1
    assert "[manifest_missing]" in result.output


def test_the_night_of_another_manifest_does_not_verify():
    manifest = SAMPLES / "manifest-2.json"
    result = CliRunner().invoke(
        app,
        [
            "map",
            "market_reg",
            "cases",
            str(SAMPLES / "cases-1.jsonl"),
            f"--meta=manifest={manifest}",
        ],
    )
    assert result.exit_code == 1
    assert "[size_mismatch]" in result.output
