"""The case identity code (身份码), the correlation id of one case across all systems.

``FJ`` + the agency's division code (6) + the registration year (4) + the two-letter domain code
+ the first 8 hex characters, upper case, of SHA-256 over the UTF-8 bytes of
``source_system|source_case_no``. Deterministic, so that replays and redeliveries cannot mint a
second code for the same source case. A case code carried in a source message is kept as it is.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import Field

__all__ = ["DOMAINS", "CaseCode", "Domain", "make_case_code"]

Domain = Literal["SC", "HJ", "WJ", "YJ", "YP", "XF", "WL", "NY", "HY", "CG", "JT", "QT"]
"""Two-letter domain (条线) codes of the canonical contract."""

DOMAINS: dict[str, str] = {
    "SC": "市场监管",
    "HJ": "生态环境",
    "WJ": "卫生健康",
    "YJ": "应急管理",
    "YP": "药品监管",
    "XF": "消防救援",
    "WL": "文化和旅游",
    "NY": "农业农村",
    "HY": "海洋渔业",
    "CG": "城市管理",
    "JT": "交通运输",
    "QT": "其他",
}

CASE_CODE_PATTERN = r"^FJ\d{6}\d{4}[A-Z]{2}[0-9A-F]{8}$"

CaseCode = Annotated[str, Field(pattern=CASE_CODE_PATTERN, examples=["FJ3504002024SC1A2B3C4D"])]
"""A case identity code (身份码)."""


def make_case_code(
    *, division_code: str, year: int, domain: str, source_system: str, source_case_no: str
) -> str:
    """The deterministic case code of one source case."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain code '{domain}'; expected one of {', '.join(DOMAINS)}")
    if not (len(division_code) == 6 and division_code.isdigit()):
        raise ValueError(f"division code '{division_code}' is not 6 digits")
    if not 1000 <= year <= 9999:
        raise ValueError(f"registration year {year} is not a 4-digit year")
    digest = hashlib.sha256(f"{source_system}|{source_case_no}".encode()).hexdigest()
    return f"FJ{division_code}{year:04d}{domain}{digest[:8].upper()}"
