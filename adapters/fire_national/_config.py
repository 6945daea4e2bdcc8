"""The config model of the fire_national adapter (README §2.2, §2.6, §2.7)."""

from __future__ import annotations

import re

from pydantic import Field, HttpUrl, SecretStr, field_validator

from adapters._transports.pacing import RateLimit
from runner.adapter_api import AdapterConfig

__all__ = ["FireNationalConfig", "as_config"]

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class FireNationalConfig(AdapterConfig):
    """Endpoint and credentials of the national fire-supervision exchange (国家消防 数据交换接口).

    The credentials are issued per province at onboarding (README §2.2): ``app_id``, the HMAC-SM3
    key ``app_secret``, the SM4 key ``sm4_key`` and the fixed SM4-CBC IV ``sm4_iv`` (both 32 hex
    characters). The three secrets are ``SecretStr``: they never appear in a repr, a log line, a
    dumped config or an error text.

    Example::

        endpoint: https://xfjdjh.119.gov.cn
        app_id: FJ35XFJD0001
        app_secret: ${EBUS_FIRE_NATIONAL_SECRET}
        sm4_key: ${EBUS_FIRE_NATIONAL_SM4_KEY}
        sm4_iv: ${EBUS_FIRE_NATIONAL_SM4_IV}
        poll_interval_s: 900        # GET /tasks every 15 minutes (README §2.7)
        page_size: 50               # tasks per page, 1..100
        rate_limit: {per_min: 60, burst: 10}    # README §2.6: 60 requests a minute per appId
    """

    endpoint: HttpUrl
    """Base URL: production ``https://xfjdjh.119.gov.cn``, joint test ``…-test.119.gov.cn``."""
    app_id: str = Field(min_length=1)
    """The issued application id (``appId``)."""
    app_secret: SecretStr
    """HMAC-SM3 key (its UTF-8 bytes are the key)."""
    sm4_key: SecretStr
    """SM4 key, 16 bytes as 32 hex characters."""
    sm4_iv: SecretStr
    """SM4-CBC IV, fixed per appId, 16 bytes as 32 hex characters (never random, never sent)."""
    province_code: str = Field("35", pattern=r"^\d{2}$")
    """Province code in every path (福建 = 35)."""
    page_size: int = Field(50, ge=1, le=100)
    """``pageSize`` of each ``GET …/tasks``."""
    max_pages_per_cycle: int = Field(20, ge=1)
    """Pages one poll cycle follows through ``nextCursor`` at most."""
    poll_interval_s: int = Field(900, gt=0)
    """Seconds between poll cycles (the runtime reads it)."""
    connect_timeout_s: float = Field(5.0, gt=0)
    """Connect timeout (README §2.6: 5 s)."""
    read_timeout_s: float = Field(20.0, gt=0)
    """Read timeout (README §2.6: 20 s)."""
    rate_limit: RateLimit | None = RateLimit(per_min=60, burst=10)
    """The appId's limit (60 requests a minute, README §2.6; ``42900`` beyond), which the bus
    paces every call under with the appId's shared pacer (``adapters._transports.pacing``):
    up to ``burst`` calls at once (a poll cycle's pages), then evenly spaced so that no minute
    holds more than 60. ``null``: not paced."""

    @field_validator("sm4_key", "sm4_iv")
    @classmethod
    def _hex32(cls, value: SecretStr) -> SecretStr:
        if not _HEX32.fullmatch(value.get_secret_value()):
            raise ValueError("must be 32 hex characters (16 bytes)")
        return value

    def key_bytes(self) -> bytes:
        """The SM4 key as bytes."""
        return bytes.fromhex(self.sm4_key.get_secret_value())

    def iv_bytes(self) -> bytes:
        """The fixed SM4-CBC IV as bytes."""
        return bytes.fromhex(self.sm4_iv.get_secret_value())

    def secret_bytes(self) -> bytes:
        """The HMAC-SM3 key: the UTF-8 bytes of ``app_secret``."""
        return self.app_secret.get_secret_value().encode("utf-8")


def as_config(config: AdapterConfig) -> FireNationalConfig:
    """``config`` as the fire_national model (the runtime validated it with ``SPEC.config``)."""
    if isinstance(config, FireNationalConfig):
        return config
    return FireNationalConfig.model_validate(config.model_dump())
