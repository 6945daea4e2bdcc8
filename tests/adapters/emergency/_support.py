"""Shared helpers of the emergency tests: the spec's samples, signed requests, edited documents.

``DispatchingWebhookServer`` is the runner's ``WebhookServer`` plus the one change the emergency
interface needs from it (README §2.1: both message types arrive on ``POST /inbound/emergency``):
the request's ``Head/msgType`` (``message_type_of``) chooses the message type. It is here until
the shared server can serve several message types of one system on one path.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from adapters.emergency import APP_ID, SPEC, signed_headers
from runner.adapter_api import RawMessage
from runner.engine.webhooks import WebhookServer
from tests.conftest import SPECS

SAMPLES = SPECS / "systems" / "emergency" / "samples"
SECRET = str(SPEC.demo_config["app_secret"])
CONFIG = SPEC.config.model_validate(dict(SPEC.demo_config))
BEIJING = dt.timezone(dt.timedelta(hours=8))
INBOUND = sorted(p for p in SAMPLES.glob("*-[0-9].xml") if not p.name.startswith("ack-"))


def message_of(path: Path) -> str:
    """The bus message type of a sample (``penalty_decision-2.xml`` → ``penalty_decision``)."""
    return path.name.split("-")[0]


def sample_headers(path: Path) -> tuple[dict[str, str], str]:
    """The signed headers of a sample (lower-cased) and its bus clock for replay."""
    data = json.loads(path.with_name(path.name.split(".")[0] + ".headers.json").read_bytes())
    return {k.lower(): v for k, v in data["headers"].items()}, data["bus_clock"]


def expected(path: Path) -> Any:
    """The ``.expected.json`` envelope of a sample."""
    return json.loads(path.with_name(path.name.split(".")[0] + ".expected.json").read_bytes())


def signed(
    body: bytes,
    *,
    at: dt.datetime | None = None,
    nonce: str = "0123456789abcdef",
    secret: str = SECRET,
    live: bool = False,
) -> RawMessage:
    """``body`` as the bus receives it, signed like the YJZF client does (``live``: through
    the HTTP endpoint, so the freshness checks apply)."""
    when = at or dt.datetime(2024, 3, 5, 10, 30, 15, tzinfo=BEIJING)
    headers = {k.lower(): v for k, v in signed_headers(secret, APP_ID, body, when, nonce).items()}
    meta = {"method": "POST", "path": "/inbound/emergency"} if live else {}
    return RawMessage(body=body, headers=headers, meta=meta)


def edit(path: Path, old: str, new: str, count: int = 1) -> bytes:
    """A UTF-8 sample with ``old`` replaced by ``new`` (which must occur ``count`` times)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times in {path.name}"
    return text.replace(old, new).encode("utf-8")


DispatchingWebhookServer = WebhookServer
"""The shared endpoint, which serves ``emergency``'s two message types on one path through
``SPEC.webhook_message`` (README §2.1: both arrive on ``POST /inbound/emergency``)."""
