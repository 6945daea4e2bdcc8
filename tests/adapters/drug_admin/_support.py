"""Helpers of the drug_admin tests: samples, a settable clock, mapping and rendering shortcuts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from adapters.drug_admin import DrugAdminConfig
from adapters.drug_admin.simulator import PASSWORD, USER_NAME, DrugAdminSimulator
from runner.adapter_api import Outgoing, RawMessage
from runner.dryrun import DryRun, map_message, render_message
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

SAMPLES = SPECS / "systems" / "drug_admin" / "samples"
PROJECT = load_project()
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def at(*parts: int) -> dt.datetime:
    """A Beijing time."""
    return dt.datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


class Clock:
    """A settable clock: the simulator's server time and the poller's ``now``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def sample(name: str) -> bytes:
    """The bytes of ``samples/<name>``."""
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    """The JSON of ``samples/<name>``."""
    return json.loads(sample(name))


def mapped(message: str, body: bytes, **meta: str) -> DryRun:
    """``body`` through the drug_admin inbound path of ``message`` (the real mappings)."""
    return map_message(PROJECT, "drug_admin", message, RawMessage(body=body, meta=meta))


def unstamped(result: DryRun) -> list[dict[str, Any]]:
    """The envelopes as JSON without the fields the bus stamps."""
    return [
        {k: v for k, v in e.model_dump(mode="json").items() if k not in STAMPED}
        for e in result.envelopes
    ]


def rendered(envelope: dict[str, Any], now: str, nonce: str = "") -> Outgoing:
    """The ``assign_joint_task`` call for ``envelope`` with a fixed clock and nonce."""
    facts = {"now": now, "nonce": nonce} if nonce else {"now": now}
    return render_message(PROJECT, "drug_admin", "assign_joint_task", [envelope], facts)


def make_config(simulator: DrugAdminSimulator, **overrides: object) -> DrugAdminConfig:
    """A config pointing at ``simulator`` with the test account and no request spacing."""
    values: dict[str, object] = {
        "endpoint": simulator.endpoint,
        "user_name": USER_NAME,
        "password": PASSWORD,
        "request_spacing_s": 0,
    }
    values.update(overrides)
    return DrugAdminConfig.model_validate(values)


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as UTF-8 JSON and return ``path``."""
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
