"""GB/T 2260 administrative division codes (行政区划代码), current and historical.

The code lists are copied from the shared reference data into ``schemas/data/divisions/`` (see
``SOURCE.md`` there). They are read once, on first use.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Division", "division", "is_division_code", "province_codes"]


@dataclass(frozen=True, slots=True)
class Division:
    """One GB/T 2260 code as the history list records it."""

    code: str
    name: str
    in_use: bool
    since: int | None
    until: int | None
    replaced_by: str | None


def _year(text: str) -> int | None:
    return int(text) if text.strip() else None


@cache
def _history() -> dict[str, Division]:
    path = resources.files("schemas") / "data" / "divisions" / "history.csv"
    table: dict[str, Division] = {}
    text = path.read_text(encoding="utf-8-sig")
    for row in csv.DictReader(text.splitlines()):
        code = row["代码"]
        table[code] = Division(
            code=code,
            name=row["名称"],
            in_use=row["状态"] == "在用",
            since=_year(row["启用时间"]),
            until=_year(row["变更/弃用时间"]),
            replaced_by=row["新代码"] or None,
        )
    return table


def division(code: str) -> Division | None:
    """The division recorded under ``code``, or None when GB/T 2260 never had that code."""
    return _history().get(code)


def is_division_code(code: str) -> bool:
    """True when ``code`` is, or ever was, a 6-digit GB/T 2260 code."""
    return len(code) == 6 and code.isdigit() and code in _history()


@cache
def province_codes() -> frozenset[str]:
    """The two-digit province prefixes that GB/T 2260 has ever used (11 北京 … 82 澳门)."""
    return frozenset(code[:2] for code in _history() if code.endswith("0000"))
