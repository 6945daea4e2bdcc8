"""Shared fixtures: the interface specifications and their samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.specs import specs_dir

SPECS = specs_dir()  # fails the whole run, never skips, when the specs are missing


def load_items(path: Path) -> list[dict[str, Any]]:
    """The items of a sample file: one JSON object, or each object of a JSON array."""
    data = json.loads(path.read_bytes())
    return data if isinstance(data, list) else [data]


def sample_files(pattern: str) -> list[Path]:
    """Sample files of every system matching ``pattern`` (e.g. ``*.expected.json``)."""
    return sorted(SPECS.glob(f"systems/*/samples/{pattern}"))


@pytest.fixture(scope="session")
def specs() -> Path:
    """The specs directory."""
    return SPECS
