"""The config model of the market_platform adapter."""

from __future__ import annotations

from pydantic import Field

from adapters._transports.filedrop import FileDropConfig
from runner.adapter_api import AdapterConfig

__all__ = ["MarketPlatformConfig", "as_config"]


class MarketPlatformConfig(FileDropConfig):
    """The platform's drop over SFTP (README §2) and the poll schedule.

    Example::

        url: sftp://fjzf_esb@sftp.scjgj.fujian.gov.cn:22/fjzf
        key_file: /etc/ebus/keys/market_platform_ed25519
        host_key_sha256: "SHA256:…"          # from the registration form
        poll_interval_s: 300                  # README §2: every 5 minutes, never under 60 s

    Inherited keys (``url``, ``key_file``, ``key_passphrase``, ``host_key_sha256``,
    ``connect_timeout_s``, ``operation_timeout_s``, ``idle_reconnect_s``, ``max_file_bytes``,
    ``max_sessions``) are documented in ``adapters._transports.filedrop.FileDropConfig``;
    ``max_sessions`` defaults to the server's 2 sessions per user here (README §2).
    """

    poll_interval_s: float = Field(300.0, gt=0)
    """Seconds between two listings of ``inbox/`` (the spec asks for 300, at least 60; the demo
    and tests use less against the simulator)."""
    inbox: str = "inbox"
    """The folder the platform drops task files in."""
    outbox: str = "outbox"
    """The folder the bus drops result files in."""
    max_sessions: int | None = Field(2, ge=1)
    """SFTP sessions of the user held at once by this process: the poller's and the result
    drop's share the server's cap of 2 per user (README §2); ``null``: no cap."""


def as_config(config: AdapterConfig) -> MarketPlatformConfig:
    """``config`` as the market_platform model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, MarketPlatformConfig):
        return config
    return MarketPlatformConfig.model_validate(config.model_dump())
