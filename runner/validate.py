"""Validation of canonical JSON files: what ``ebus schemas validate`` runs.

A file holds one canonical message, a delivery outcome, or a JSON array of them. Each item is
checked against its schema and reported with the file, the item's index and every error's field
path and rule; a value is never echoed (it may be L3 data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas import DeliveryOutcome, describe, parse_envelope

__all__ = ["FileReport", "validate_file"]


@dataclass
class FileReport:
    """The result of validating one file: how many items, and the error lines."""

    path: Path
    items: int = 0
    kinds: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every item of the file is valid."""
        return not self.errors


def _validate_item(item: Any, *, draft: bool) -> str:
    if isinstance(item, dict) and "outcome" in item and "schema" not in item:
        DeliveryOutcome.model_validate(item)
        return "delivery_outcome"
    envelope = parse_envelope(item, draft=draft)
    return envelope.schema_name


def validate_file(path: Path, *, draft: bool = True) -> FileReport:
    """Validate every item of ``path``; with ``draft`` the bus-stamped fields may be absent."""
    report = FileReport(path)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.errors.append(f"{path}: not readable JSON ({type(exc).__name__}: {exc})")
        return report
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        report.items += 1
        where = f"{path}[{index}]" if isinstance(data, list) else str(path)
        try:
            report.kinds.append(_validate_item(item, draft=draft))
        except ValidationError as exc:
            report.errors += [f"{where}: {line}" for line in describe(exc)]
    return report
