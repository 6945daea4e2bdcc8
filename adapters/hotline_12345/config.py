"""The connection settings of hotline_12345 (README §1, §2, §2.1)."""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field, HttpUrl, SecretStr, field_validator

from adapters._transports.pacing import RateLimit
from runner.adapter_api import AdapterConfig

__all__ = ["API_KEY_PATTERN", "Hotline12345Config", "as_config"]

API_KEY_PATTERN = re.compile(r"fj12345_(live|test)_[0-9A-Za-z]{16,17}")
"""The shape of an API key: ``fj12345_live_`` or ``fj12345_test_`` plus 17 characters (README
§2) — or 16, as the README's own published test key ``fj12345_test_7Qm2xR9vL4kP8sT1`` has."""


class Hotline12345Config(AdapterConfig):
    """Endpoint, API key and polling settings of the 12345 work-order open API v3.

    The API key (Bearer, README §2) is a ``SecretStr``: it never appears in a repr, a log line
    or a dumped config. During the 7-day overlap of a rotation either key works; set the new one.

    ``initial_cursor`` is where a bus without a stored cursor starts (a replay cursor from the
    12345 operations team, README §2.1 rule 5). Without one, the first cycle starts a new
    subscription (no ``cursor`` parameter) only when ``new_subscription`` is true: restarting
    without a cursor would skip orders, so it is never done by accident.

    ``rate_limit`` is the gateway's limit per key, which the bus paces every call under
    (default ``{per_min: 600, per_s: 20}``, README §2), shared by the poller and the delivery
    workers using the key in this process (``adapters._transports.pacing``); ``null`` turns
    pacing off. After a 429 the key's gate still holds every call back for ``Retry-After``.

    Example::

        endpoint: https://api.fj12345.gov.cn
        api_key: ${EBUS_HOTLINE_12345_API_KEY}
        page_size: 100
        rate_limit: {per_min: 600, per_s: 20}
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    endpoint: HttpUrl
    api_key: SecretStr
    page_size: int = Field(default=100, ge=1, le=100)
    poll_interval_s: float = Field(default=60.0, ge=30.0)
    max_pages_per_cycle: int = Field(default=50, ge=1)
    initial_cursor: str | None = None
    new_subscription: bool = False
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    rate_limit: RateLimit | None = RateLimit(per_min=600, per_s=20)

    @field_validator("api_key")
    @classmethod
    def _key_shape(cls, value: SecretStr) -> SecretStr:
        """A key has the issued shape; the message never repeats the key."""
        if not API_KEY_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError(
                "api_key must be fj12345_live_ or fj12345_test_ plus 16..17 letters or digits"
            )
        return value


def as_config(config: AdapterConfig) -> Hotline12345Config:
    """``config`` as the hotline_12345 model (the runner passes the validated model it built)."""
    if not isinstance(config, Hotline12345Config):
        raise TypeError(f"hotline_12345 needs a Hotline12345Config, got {type(config).__name__}")
    return config
