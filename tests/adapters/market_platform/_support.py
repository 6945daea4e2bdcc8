"""Shared helpers of the market_platform tests: the project, samples, a poll context."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from adapters._simulators.polling import RecordingPollContext
from adapters.market_platform import MarketPlatformConfig
from runner.adapter_api import Outgoing, RawMessage
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "market_platform" / "samples"
NOW = dt.datetime(2025, 4, 9, 10, 0, tzinfo=SHANGHAI)
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def no_calls(call: Outgoing) -> RawMessage:
    """A poller of a file drop makes no calls."""
    raise AssertionError(f"unexpected call {call.path}")


def context() -> RecordingPollContext:
    """A recording poll context (emits, facts and rejections kept in memory)."""
    return RecordingPollContext(no_calls, now=NOW)


def config(url: str, **extra: Any) -> MarketPlatformConfig:
    """The adapter config for a drop at ``url``."""
    return MarketPlatformConfig(url=url, **extra)


def expected(stem: str) -> list[dict[str, Any]]:
    """The expected envelopes of a sample, as a list."""
    data = json.loads((SAMPLES / f"{stem}.expected.json").read_bytes())
    return data if isinstance(data, list) else [data]


def unstamped(envelope: dict[str, Any]) -> dict[str, Any]:
    """An envelope without the fields the bus stamps."""
    return {k: v for k, v in envelope.items() if k not in STAMPED}


def inputs(stem: str) -> list[dict[str, Any]]:
    """The canonical envelopes of an outbound sample."""
    data = json.loads((SAMPLES / f"{stem}.input.json").read_bytes())
    return data if isinstance(data, list) else [data]


def sample(name: str) -> Path:
    """A sample file."""
    return SAMPLES / name
