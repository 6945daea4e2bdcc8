"""Shared helpers of the fire_national tests: the samples, the project, configs and builders."""

from __future__ import annotations

import copy
import json
from typing import Any

from adapters.fire_national import DEMO_CONFIG, SPEC, FireNationalConfig
from adapters.fire_national._envelope import Keys, seal
from runner.adapter_api import RawMessage
from runner.project import load_project
from tests.conftest import SPECS

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "fire_national" / "samples"
OUTBOUND = [f"{m}-{n}" for m in ("penalties", "inspections") for n in (1, 2, 3)]
TASKS = ["tasks-1", "tasks-2", "tasks-3"]
ANSWERS = [f"upload_response-{n}" for n in (1, 2, 3, 4)]


def config(endpoint: str | None = None, **changes: Any) -> FireNationalConfig:
    """The demo (joint-test) config, at ``endpoint`` when given."""
    values = {**DEMO_CONFIG, **({"endpoint": endpoint} if endpoint else {}), **changes}
    return FireNationalConfig.model_validate(values)


def keys() -> Keys:
    """The joint-test credentials."""
    settings = config()
    return Keys(settings.app_id, settings.secret_bytes(), settings.key_bytes(), settings.iv_bytes())


def load(name: str) -> Any:
    """A JSON sample file."""
    return json.loads((SAMPLES / name).read_bytes())


def signing(stem: str) -> dict[str, Any]:
    """The ``.signing.json`` sidecar of a sample."""
    return load(f"{stem}.signing.json")


def plain_page(stem: str) -> dict[str, Any]:
    """The decrypted page of a tasks sample."""
    return copy.deepcopy(load(f"{stem}.plain.json"))


def page_answer(page: Any, *, raw_payload: bytes | None = None) -> bytes:
    """A signed tasks answer carrying ``page`` (or exactly ``raw_payload``)."""
    payload = raw_payload
    if payload is None:
        payload = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
    envelope = seal(keys(), payload, "1709856001000", "a2c5f8b1e4d7093c6f9b2e5a8d1c4f70")
    answer = {"code": "0", "msg": "成功", **envelope}
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def with_task(page: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``page`` with its first task changed (a key set to ``...`` is removed)."""
    task = page["tasks"][0]
    for key, value in changes.items():
        if value is ...:
            task.pop(key, None)
        else:
            task[key] = value
    return page


def raw(body: bytes, **meta: str) -> RawMessage:
    """A raw answer with transport facts."""
    return RawMessage(body=body, meta=meta)


__all__ = [
    "ANSWERS",
    "OUTBOUND",
    "PROJECT",
    "SAMPLES",
    "SPEC",
    "TASKS",
    "config",
    "keys",
    "load",
    "page_answer",
    "plain_page",
    "raw",
    "signing",
    "with_task",
]
