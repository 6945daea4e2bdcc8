"""Deployment settings: where the bus and the stores are, and each system's adapter config.

``ebus run --config ebus.yaml``::

    bus: amqp://guest:guest@127.0.0.1:5672//     # default: sqlite:///var/ebus-broker.db
    store: postgresql+psycopg://ebus@db/ebus      # default: sqlite:///var/ebus.db
    systems:
      eco_env:
        endpoint: https://hjzf.sthjt.fujian.gov.cn/EnforceService/LawEnforceService.asmx
        user_name: fjzf_esb
        secret_key: ${EBUS_ECO_ENV_SECRET}          # secrets come from the environment

A system not listed is not connected (its routes' destinations wait, its poller does not run).
``${NAME}`` is replaced by the environment variable NAME; a missing variable is an error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from runner.batch._settings import BatchSettings
from runner.errors import ConfigError
from runner.transfers._settings import TransferSettings

__all__ = ["DEFAULT_BUS_URL", "DEFAULT_STORE_URL", "Settings", "WebhookSettings", "load_settings"]

DEFAULT_BUS_URL = "sqlite:///var/ebus-broker.db"
DEFAULT_STORE_URL = "sqlite:///var/ebus.db"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class WebhookSettings(BaseModel):
    """The HTTP endpoint the bus serves for systems that push (webhooks).

    Every connected adapter's endpoints (``SPEC.webhooks``) are served on it, e.g.
    ``POST /inbound/online_hall/licenses``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    """Address to listen on; ``0.0.0.0`` to accept calls from other machines."""
    port: int = Field(default=8080, ge=0, le=65535)
    """TCP port (0: any free port, for tests)."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    """Larger requests are refused with 413 before they are read."""
    read_timeout_s: float = Field(default=30.0, gt=0)
    """A client that sends nothing for this long is disconnected."""
    tls_cert: str | None = None
    """PEM certificate chain file; with ``tls_key`` the endpoint speaks HTTPS only."""
    tls_key: str | None = None
    """PEM private key file of ``tls_cert``."""


class Settings(BaseModel):
    """Where the bus and stores live, and the config of each connected system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bus: str = Field(default_factory=lambda: os.environ.get("EBUS_BUS_URL", DEFAULT_BUS_URL))
    store: str = Field(default_factory=lambda: os.environ.get("EBUS_STORE_URL", DEFAULT_STORE_URL))
    systems: dict[str, dict[str, Any]] = Field(default_factory=dict)
    poll: bool = True
    webhook: WebhookSettings | None = None
    """Serve the webhook endpoint (off when absent)."""
    batch: BatchSettings = Field(default_factory=BatchSettings)
    """Scheduled batch jobs: in-process, or through Apache Airflow (``runner.batch``)."""
    transfers: TransferSettings = Field(default_factory=TransferSettings)
    """The transfer core: its day count and deadline watcher (``runner.transfers``)."""


def _interpolate(value: Any) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name not in os.environ:
                raise ConfigError(f"settings use ${{{name}}} but the environment has no {name}")
            return os.environ[name]

        return _VARIABLE.sub(replace, value)
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    return value


def load_settings(path: Path | None) -> Settings:
    """Settings from a YAML file (environment variables interpolated), or the defaults."""
    if path is None:
        return Settings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read settings {path}: {exc}") from None
    try:
        return Settings.model_validate(_interpolate(data))
    except ValueError as exc:
        raise ConfigError(f"settings {path}: {exc}") from None
