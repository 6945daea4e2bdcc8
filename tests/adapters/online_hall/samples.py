"""The online_hall spec samples as test data, and a dry run of one pushed request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.online_hall import SPEC, OnlineHallConfig
from adapters.online_hall.simulator import DEMO_SECRET, Push
from runner.adapter_api import RawMessage
from runner.dryrun import DryRun, map_message
from runner.project import load_project
from tests.adapters.http_samples import HttpSample, parse_http
from tests.conftest import SPECS

__all__ = [
    "PROJECT",
    "SAMPLES",
    "STEMS",
    "HttpSample",
    "config",
    "dry_run",
    "message_of",
    "payload",
    "raw_of",
    "read_http",
    "sample_path",
]

PROJECT = load_project()
SAMPLES = SPECS / "systems" / "online_hall" / "samples"
STEMS = [f"{message}-{n}" for message in ("license_webhook", "delivery_webhook") for n in (1, 2, 3)]


def read_http(stem: str) -> HttpSample:
    """The request of ``samples/<stem>.http``."""
    return parse_http(SAMPLES / f"{stem}.http")


def config(secret: str = DEMO_SECRET, previous: str | None = None) -> OnlineHallConfig:
    """The adapter config with the README's test-environment secret."""
    return OnlineHallConfig.model_validate({"secret": secret, "previous_secret": previous})


def raw_of(request: HttpSample | Push) -> RawMessage:
    """A request as the webhook endpoint hands it over: lower-case headers, method and path."""
    if isinstance(request, Push):
        headers = {k.lower(): v for k, v in request.headers.items()}
        return RawMessage(request.body, headers, {"method": "POST", "path": request.path})
    headers = {k.lower(): v for k, v in request.headers}
    return RawMessage(request.body, headers, {"method": request.method, "path": request.path})


def message_of(path: str) -> str:
    """The message type the endpoint serves at ``path``."""
    return next(hook.message for hook in SPEC.webhooks if hook.path == path)


def dry_run(request: HttpSample | Push) -> DryRun:
    """Verify, prepare and map one pushed request as the endpoint would."""
    raw = raw_of(request)
    return map_message(PROJECT, "online_hall", message_of(raw.meta["path"]), raw)


def payload(request: HttpSample | Push) -> dict[str, Any]:
    """The canonical payload of a request that maps to one envelope."""
    [envelope] = dry_run(request).envelopes
    return envelope.model_dump(mode="json")["payload"]


def sample_path(stem: str, ext: str) -> Path:
    """``samples/<stem><ext>``."""
    return SAMPLES / f"{stem}{ext}"
