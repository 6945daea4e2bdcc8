"""Shared helpers of the market_reg tests: the project, samples, a poll context, configs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from adapters._simulators.polling import RecordingPollContext
from adapters.market_reg import DEMO_SECRET, MarketRegConfig
from runner.adapter_api import Outgoing, RawMessage
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "market_reg" / "samples"
NIGHTS = {1: "20240305", 2: "20240306", 3: "20240307"}
"""Sample night n → its data date (the dates in the manifests)."""
NOW = dt.datetime(2024, 3, 8, 2, 40, tzinfo=SHANGHAI)
"""After the sample nights' manifests, before the deadline of the last one."""
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def no_calls(call: Outgoing) -> RawMessage:
    """The import of a file drop makes no calls."""
    raise AssertionError(f"unexpected call {call.path}")


def context(now: dt.datetime = NOW) -> RecordingPollContext:
    """A recording poll context (emits, facts and rejections kept in memory)."""
    return RecordingPollContext(no_calls, now=now)


def config(url: str, **extra: Any) -> MarketRegConfig:
    """The adapter config for a drop rooted at ``url`` with the spec's test secret."""
    return MarketRegConfig(url=url, export_secret=DEMO_SECRET, **extra)


def sample(name: str) -> bytes:
    """The bytes of a sample file."""
    return (SAMPLES / name).read_bytes()


def expected(kind: str, night: int) -> list[dict[str, Any]]:
    """The expected envelopes of a sample file."""
    return json.loads((SAMPLES / f"{kind}-{night}.expected.json").read_bytes())


def unstamped(envelope: dict[str, Any]) -> dict[str, Any]:
    """An envelope without the fields the bus stamps."""
    return {k: v for k, v in envelope.items() if k not in STAMPED}


def drop_sample_night(inbox: Path, night: int) -> None:
    """Put sample night ``night`` on the drop byte for byte under its wire names."""
    day = NIGHTS[night]
    inbox.mkdir(parents=True, exist_ok=True)
    for kind in ("cases", "decisions"):
        (inbox / f"{kind}_{day}.jsonl").write_bytes(sample(f"{kind}-{night}.jsonl"))
    (inbox / f"manifest_{day}.json").write_bytes(sample(f"manifest-{night}.json"))
