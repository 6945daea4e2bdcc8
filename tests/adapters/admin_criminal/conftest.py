"""Fixtures of the admin_criminal tests: the spec's samples, configs with unique broker names,
and the police side on the real RabbitMQ."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.admin_criminal import SPEC, AdminCriminalConfig
from adapters.admin_criminal._poll import close_links
from adapters.admin_criminal.simulator import PoliceSide
from tests.conftest import SPECS
from tests.services import require_rabbitmq

SAMPLES = SPECS / "systems" / "admin_criminal" / "samples"
INBOUND = sorted(
    p
    for p in SAMPLES.glob("*-[0-9].json")
    if not p.name.startswith("transfer_package") and ".expected" not in p.name
)
PACKAGES = sorted(SAMPLES.glob("transfer_package-[0-9].json"))


def facts(path: Path) -> dict[str, Any]:
    """The ``.amqp.json`` sidecar of a sample body."""
    return json.loads(path.with_name(path.name.removesuffix(".json") + ".amqp.json").read_text())


def make_config(**overrides: Any) -> AdminCriminalConfig:
    """The demo config (local RabbitMQ, the README's test keys) with unique names."""
    tag = uuid.uuid4().hex[:10]
    settings = {
        **SPEC.demo_config,
        "exchange": f"test.ac.{tag}.transfer",
        "receipts_queue": f"test.ac.{tag}.receipts",
        "confirm_timeout_s": 5.0,
        **overrides,
    }
    return AdminCriminalConfig.model_validate(settings)


@pytest.fixture
def config() -> AdminCriminalConfig:
    """A config with unique exchange and queue names."""
    return make_config()


@pytest.fixture
def police(config: AdminCriminalConfig) -> Iterator[PoliceSide]:
    """The police side declared and consuming on the real broker; cleaned up afterwards."""
    require_rabbitmq()
    side = PoliceSide(config, auto_receipt=False)
    side.start()
    try:
        yield side
    finally:
        close_links()
        side.stop()
