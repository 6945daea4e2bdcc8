"""Durations with units, as config writes them: "500ms", "30s", "10m", "2h", "1d"."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: Any) -> float:
    """Seconds of a duration string (a bare number is seconds)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number with a unit, like 30s or 10m")
    if isinstance(value, int | float):
        return float(value)
    match = _PATTERN.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a duration (use ms, s, m, h or d: 500ms, 30s, 10m)")
    return float(match[1]) * _UNITS[match[2]]


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda s: f"{s:g}s", return_type=str, when_used="json"),
]
"""Seconds, written with a unit in config."""
