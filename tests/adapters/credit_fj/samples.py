"""The credit_fj spec samples as test data: wire requests (.http), inputs, answers, call facts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from adapters.credit_fj import CreditFjConfig
from adapters.credit_fj.simulator import DEMO_APP_KEY, DEMO_SECRET
from runner.adapter_api import CallContext, Outgoing
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.adapters.http_samples import HttpSample, parse_http
from tests.conftest import SPECS

__all__ = [
    "PROJECT",
    "SAMPLES",
    "HttpSample",
    "call_context",
    "config",
    "envelope",
    "inputs",
    "read_http",
    "render_facts",
    "wire_request",
]

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "credit_fj" / "samples"
PRODUCTION = "https://xyfj-gw.fjzwnet.gov.cn:8443"


def read_http(stem: str) -> HttpSample:
    """The request of ``samples/<stem>.http``."""
    return parse_http(SAMPLES / f"{stem}.http")


def config(endpoint: str = PRODUCTION, secret: str = DEMO_SECRET) -> CreditFjConfig:
    """The joint-test credentials of README §2.3 at ``endpoint``."""
    return CreditFjConfig.model_validate(
        {"endpoint": endpoint, "app_key": DEMO_APP_KEY, "app_secret": secret}
    )


def _moment(sample: HttpSample) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (epoch + dt.timedelta(milliseconds=int(sample.header("X-Timestamp")))).astimezone(
        SHANGHAI
    )


def _sequence(sample: HttpSample) -> int:
    return int(json.loads(sample.body)["batchNo"][-4:]) if sample.body else 1


def call_context(sample: HttpSample) -> CallContext:
    """The call facts the sample was made with: its clock (to the ms), nonce and sequence."""
    return CallContext(
        now=_moment(sample), nonce=sample.header("X-Nonce"), sequence=_sequence(sample)
    )


def render_facts(sample: HttpSample) -> dict[str, str]:
    """The same facts as ``--meta`` values (the dry-run clock has whole seconds, so a sample
    timestamp with milliseconds is pinned with ``timestamp``)."""
    moment = _moment(sample)
    facts = {
        "now": moment.replace(microsecond=0).isoformat(),
        "nonce": sample.header("X-Nonce"),
        "sequence": str(_sequence(sample)),
    }
    if moment.microsecond:
        facts["timestamp"] = sample.header("X-Timestamp")
    return facts


def inputs(stem: str) -> list[dict[str, Any]]:
    """The ``.input.json`` of a sample as a list (one input object, or a batch of envelopes)."""
    data = json.loads((SAMPLES / f"{stem}.input.json").read_bytes())
    return data if isinstance(data, list) else [data]


def envelope(stem: str, index: int = 0) -> dict[str, Any]:
    """A fresh copy of one canonical envelope of a sample batch, to vary in a test."""
    return inputs(stem)[index]


def wire_request(call: Outgoing, host: str) -> bytes:
    """``call`` as HTTP/1.1 request bytes, with the ``Host`` the transport sends first."""
    lines = [f"{call.method} {call.path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in call.headers.items()]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + call.body
