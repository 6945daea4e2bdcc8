"""The health spec samples as test data, and helpers to run pages through the adapter."""

from __future__ import annotations

import copy
import json
from typing import Any

from adapters.health import HealthConfig
from adapters.health.config import TEST_API_KEY
from runner.adapter_api import RawMessage
from runner.dryrun import DryRun, map_message
from runner.project import load_project
from tests.conftest import SPECS

__all__ = [
    "PROJECT",
    "SAMPLES",
    "config",
    "map_page",
    "page",
    "record",
]

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "health" / "samples"
PRODUCTION = "https://wsjd.wjw.fujian.gov.cn"
GO_LIVE = "2025-01-01T00:00:00+08:00"


def config(endpoint: str = PRODUCTION, **settings: Any) -> HealthConfig:
    """The README's test key at ``endpoint``, starting at the demo go-live date."""
    base = {"endpoint": endpoint, "api_key": TEST_API_KEY, "initial_since": GO_LIVE}
    return HealthConfig.model_validate(base | settings)


def _sample(n: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"cases_page-{n}.json").read_bytes())
    return data


RECORDS = {
    "yuezu_v1": (1, 0),  # 悦足堂 v1, individual business, no decision
    "hengtai_v3": (1, 1),  # 恒泰鞋业 v3, organisation, decided
    "yuezu_v2": (2, 0),  # 悦足堂 v2, decided
    "huang_v2": (3, 0),  # 黄某强, natural person, decided
    "lumei_v1": (3, 1),  # 鹭美, organisation, registered
}


def record(name: str, **changes: Any) -> dict[str, Any]:
    """A fresh copy of a sample record (see ``RECORDS``) with top-level ``changes``."""
    n, index = RECORDS[name]
    found = copy.deepcopy(_sample(n)["data"]["content"][index])
    found.update(changes)
    return found


def page(*records: dict[str, Any], last: bool = True, number: int = 0) -> dict[str, Any]:
    """A page answer holding ``records``."""
    data = {
        "content": list(records),
        "page": number,
        "size": 50,
        "totalElements": len(records),
        "totalPages": 1,
        "last": last,
    }
    return {"code": 200, "message": "success", "data": data, "timestamp": 1749111000000}


def map_page(document: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> DryRun:
    """Run an answer (a document, or raw bytes) through the whole inbound path."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode("utf-8")
    raw = RawMessage(body=body, headers=headers or {}, meta={"status": str(status)})
    return map_message(PROJECT, "health", "cases_page", raw)
