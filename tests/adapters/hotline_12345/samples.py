"""The hotline_12345 spec samples as test data, and helpers to run them through the adapter."""

from __future__ import annotations

import copy
import json
from typing import Any

from adapters.hotline_12345 import Hotline12345Config
from adapters.hotline_12345.simulator import DEMO_API_KEY
from runner.adapter_api import Outgoing, RawMessage
from runner.dryrun import DryRun, map_message
from runner.project import load_project
from tests.adapters.http_samples import HttpSample, parse_http
from tests.conftest import SPECS

__all__ = [
    "PRODUCTION_HOST",
    "PROJECT",
    "SAMPLES",
    "HttpSample",
    "config",
    "envelope",
    "map_answer",
    "map_items",
    "page",
    "read_http",
    "wire_request",
    "work_order",
]

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "hotline_12345" / "samples"
PRODUCTION = "https://api.fj12345.gov.cn"
PRODUCTION_HOST = "api.fj12345.gov.cn"
SYSTEM = "hotline_12345"


def read_http(stem: str) -> HttpSample:
    """The request of ``samples/<stem>.http``."""
    return parse_http(SAMPLES / f"{stem}.http")


def wire_request(call: Outgoing, host: str) -> bytes:
    """``call`` as HTTP/1.1 request bytes, with the ``Host`` the transport sends first."""
    lines = [f"{call.method} {call.path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in call.headers.items()]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + call.body


def config(endpoint: str = PRODUCTION, **settings: Any) -> Hotline12345Config:
    """The README's test key at ``endpoint``."""
    return Hotline12345Config.model_validate(
        {"endpoint": endpoint, "api_key": DEMO_API_KEY, **settings}
    )


def envelope(stem: str) -> dict[str, Any]:
    """A fresh copy of the ``.input.json`` of a sample."""
    data: dict[str, Any] = json.loads((SAMPLES / f"{stem}.input.json").read_bytes())
    return data


def work_order(index: int = 0, sample: str = "workorders_page-2", **changes: Any) -> dict[str, Any]:
    """A fresh copy of one work order of a page sample, with ``changes`` (None deletes a key)."""
    items = json.loads((SAMPLES / f"{sample}.json").read_bytes())["data"]["items"]
    item: dict[str, Any] = copy.deepcopy(items[index])
    for key, value in changes.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def page(*items: dict[str, Any], cursor: str = "Y3Vyc29y", more: bool = False) -> bytes:
    """A ``0000`` page answer holding ``items``."""
    document = {
        "code": "0000",
        "msg": "成功",
        "data": {"items": list(items), "nextCursor": cursor, "hasMore": more},
        "serverTime": "2025-03-16 03:00:00",
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def map_items(*items: dict[str, Any]) -> list[dict[str, Any]]:
    """The canonical envelopes (JSON) of a page holding ``items``."""
    result = map_message(PROJECT, SYSTEM, "workorders_page", RawMessage(body=page(*items)))
    return [e.model_dump(mode="json") for e in result.envelopes]


def map_answer(
    message: str,
    body: bytes,
    status: int = 200,
    path: str | None = None,
    headers: dict[str, str] | None = None,
) -> DryRun:
    """An answer with its transport facts through the inbound path."""
    meta = {"status": str(status)} | ({"path": path} if path else {})
    raw = RawMessage(body=body, headers=headers or {}, meta=meta)
    return map_message(PROJECT, SYSTEM, message, raw)
