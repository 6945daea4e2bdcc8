"""The joint_punishment spec samples as test data: wire requests (.http), inputs, answers."""

from __future__ import annotations

import json
from typing import Any

from adapters.joint_punishment import JointPunishmentConfig
from adapters.joint_punishment.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SAMPLE_TOKEN
from runner.adapter_api import Outgoing
from runner.project import load_project
from tests.adapters.http_samples import HttpSample, parse_http
from tests.conftest import SPECS

__all__ = [
    "PRODUCTION_HOST",
    "PROJECT",
    "SAMPLES",
    "SAMPLE_TOKEN",
    "HttpSample",
    "config",
    "expected",
    "inputs",
    "read_http",
    "wire_request",
]

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "joint_punishment" / "samples"
PRODUCTION_HOST = "lhcj-api.fjzwnet.gov.cn:8443"


def read_http(stem: str) -> HttpSample:
    """The request of ``samples/<stem>.http``."""
    return parse_http(SAMPLES / f"{stem}.http")


def config(endpoint: str = f"https://{PRODUCTION_HOST}", **changes: Any) -> JointPunishmentConfig:
    """The README's test credentials (§2.2) at ``endpoint``."""
    return JointPunishmentConfig.model_validate(
        {"endpoint": endpoint, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}
        | changes
    )


def inputs(stem: str) -> dict[str, Any]:
    """A fresh copy of the ``.input.json`` of a sample, to vary in a test."""
    data: dict[str, Any] = json.loads((SAMPLES / f"{stem}.input.json").read_bytes())
    return data


def expected(stem: str) -> Any:
    """The ``.expected.json`` of an answer sample."""
    return json.loads((SAMPLES / f"{stem}.expected.json").read_bytes())


def wire_request(call: Outgoing, host: str = PRODUCTION_HOST) -> bytes:
    """``call`` as HTTP/1.1 request bytes, with the ``Host`` the transport sends first."""
    lines = [f"{call.method} {call.path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in call.headers.items()]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + call.body
